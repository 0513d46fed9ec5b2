"""The drafting provider the settings ask for. Defined in `outreach.mail.llm` (mail asks the same
model to classify replies); re-exported here for review's drafting task and campaigns' exit
conditions."""

from __future__ import annotations

from outreach.mail.llm import configured_provider

__all__ = ["configured_provider"]

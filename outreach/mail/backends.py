"""Email backends of our own.

ResendEmailBackend is anymail's Resend backend plus Resend's `Idempotency-Key` request header
(Resend deduplicates requests with the same key for 24 hours), taken from the message's
`idempotency_key` attribute. `EMAIL_BACKEND=anymail.backends.resend.EmailBackend` is swapped for
this one by the sender, so a send retried after a crash cannot become a second email.
"""

from __future__ import annotations

from anymail.backends.resend import EmailBackend as AnymailResendBackend


class ResendEmailBackend(AnymailResendBackend):
    def build_message_payload(self, message, defaults):
        payload = super().build_message_payload(message, defaults)
        key = getattr(message, "idempotency_key", None)
        if key:
            payload.headers["Idempotency-Key"] = str(key)
        return payload

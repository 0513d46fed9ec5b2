"""The demo's email backend: "sends" by storing the message, readable in the browser at /mailbox/.

Use it with EMAIL_BACKEND=outreach.mail.local_mailbox.LocalMailboxBackend (the default when DEBUG is on).
Nothing leaves the machine.
"""

from __future__ import annotations

from email.utils import getaddresses, parseaddr

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from outreach.core.normalize import normalize_email
from outreach.mail.models import LocalMailboxMessage


def _bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = "", ""
    if message.content_subtype == "html":
        html = str(message.body)
    else:
        text = str(message.body)
    for content, mimetype in getattr(message, "alternatives", []) or []:
        if mimetype == "text/html":
            html = str(content)
    return text, html


class LocalMailboxBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            mime = message.message()
            text, html = _bodies(message)
            from_email = str(mime["From"])
            LocalMailboxMessage.objects.create(
                message_id=str(mime["Message-ID"] or ""),
                from_email=from_email,
                sender_address=normalize_email(parseaddr(from_email)[1]),
                to=[addr for _, addr in getaddresses(list(message.to))],
                cc=[addr for _, addr in getaddresses(list(message.cc))],
                bcc=[addr for _, addr in getaddresses(list(message.bcc))],
                reply_to=list(message.reply_to),
                subject=str(mime["Subject"] or ""),
                body_text=text,
                body_html=html,
                headers={key: str(value) for key, value in mime.items()},
                raw=mime.as_string(),
            )
            sent += 1
        return sent

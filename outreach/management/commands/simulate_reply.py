"""manage.py simulate_reply: the recipient of a sent email answers it, for the demo.

The reply is delivered to the sender's local development mailbox (the demo's stand-in for their
own inbox) and the mailbox is synced at once, so it travels the production path: matched by
In-Reply-To, recorded, the enrollment exits (exit_on_reply) and engagement_signal is emitted.

    python manage.py simulate_reply --message 12 --text "Thursday works"
    python manage.py simulate_reply --message 12 --out-of-office      # recorded, not a reply
    python manage.py simulate_reply --message 12 --no-sync            # leave it to the worker
"""

from __future__ import annotations

from django.core.mail import EmailMessage
from django.core.management.base import BaseCommand, CommandError
from django.utils.crypto import get_random_string

from outreach.mail.local_mailbox import LocalMailboxBackend
from outreach.mail.models import MailboxConnection, OutboundMessage
from outreach.mail.services.mailbox_sync import mailbox_sync


class Command(BaseCommand):
    help = "Deliver a reply to a sent email into the sender's local mailbox and sync it."

    def add_arguments(self, parser):
        parser.add_argument("--message", type=int, required=True, help="The outbound message answered.")
        parser.add_argument("--text", default="Thanks, that sounds good. Does Thursday work?")
        parser.add_argument("--out-of-office", action="store_true", help="An automatic out-of-office reply.")
        parser.add_argument("--no-sync", action="store_true", help="Only deliver; the worker's sync reads it.")

    def handle(self, *args, message: int, text: str, out_of_office: bool, no_sync: bool, **options):
        sent = OutboundMessage.objects.filter(pk=message).select_related("mailbox").first()
        if sent is None:
            raise CommandError(f"No outbound message #{message}.")
        mailbox = sent.mailbox or (
            MailboxConnection.objects.filter(
                user_id=sent.sender_id, kind=MailboxConnection.Kind.LOCAL, state=MailboxConnection.State.CONNECTED
            ).first()
        )
        if mailbox is None or mailbox.kind != MailboxConnection.Kind.LOCAL:
            raise CommandError("The sender has no local development mailbox (seed_demo connects one per sender).")
        headers = {
            "Message-ID": f"<sim-{get_random_string(16)}@{sent.to_email.rsplit('@', 1)[-1]}>",
            "In-Reply-To": sent.message_id,
            "References": " ".join(filter(None, [sent.references, sent.message_id])),
        }
        subject = f"Re: {sent.subject}"
        if out_of_office:
            headers["Auto-Submitted"] = "auto-replied"
            subject = f"Automatic reply: {sent.subject}"
            text = "I am out of the office until Monday and will reply when I am back."
        reply = EmailMessage(
            subject=subject,
            body=f"{text}\n\nOn {sent.sent_at or sent.created_at:%a, %d %b %Y}, {sent.from_email} wrote:\n> {sent.body_text[:200]}",
            from_email=sent.to_email,
            to=[mailbox.email_address],
            headers=headers,
        )
        LocalMailboxBackend().send_messages([reply])
        self.stdout.write(f"Delivered {headers['Message-ID']} to {mailbox.email_address}.")
        if no_sync:
            return
        result = mailbox_sync(mailbox_id=mailbox.pk)
        what = (
            result.skipped
            or result.error
            or (", ".join(f"{n} {k}" for k, n in result.outcomes.items()) or "nothing new")
        )
        self.stdout.write(f"Synced mailbox {mailbox.pk}: {what}")

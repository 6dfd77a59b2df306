"""The e-mail message: multipart/alternative with a plain-text and an HTML part.

Text first, HTML last (RFC 2046: the last alternative is the preferred one), so every client shows
something readable. The Message-ID is derived from the delivery id: a retried delivery is the same
message, which lets receiving servers and clients drop a duplicate.
"""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage

#: RFC 5322 allows 998 characters a line; Python's folding at 78 splits some subjects right after
#: "Subject:", which some readers show with a leading space
POLICY = email.policy.default.clone(max_line_length=998)


def build_message(
    *,
    mail_from: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    delivery_id: str,
    date: float | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(date, localtime=False)
    domain = mail_from.rpartition("@")[2] or "cdr-stats.localhost"
    message["Message-ID"] = f"<{delivery_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a notification
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text or " ", subtype="plain", charset="utf-8")
    if html:
        message.add_alternative(html, subtype="html", charset="utf-8")
    return message

"""Email delivery, after the consumer's transaction committed: a loop claims a small batch of due
PENDING notifications in one transaction (so no other mailer sends them), sends them one after
another over the kept SMTP connection in ONE worker thread call per batch (composing, sending
and recording each email there: a hop between the event loop and a thread per step waited for
the busy interpreter three times an email, and held a burst's emails to about 30 a second,
BENCHMARKS.md), and records each email's outcome as soon as the server answered: SENT, or a
retry with backoff, or FAILED once tries run out, each email's on its own (one refused address
fails no other). A read, a claim and a record per email were most of the mailer's cost
(BENCHMARKS.md, profile); the record stays per email, before the next one goes out, so a crash
leaves at most the email in hand sent and unrecorded (recording the batch at its end would send
every email of it again).

The claim is a lease (`claim_seconds`): a mailer that dies after claiming leaves its batch to
whoever finds it due again when the lease ends. The Message-ID is derived from the
notification id, so a receiver can drop the duplicate that only a crash between the SMTP
answer and the database write could cause. A batch stops sending once half the lease is gone
(the rest is handed back, due at once), so no email is sent on a lease that ran out. A stop
lets the email in hand finish and be recorded first, and hands the rest back."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from email.charset import Charset
from email.header import Header
from email.message import Message
from email.utils import format_datetime, formataddr, parseaddr
from typing import Protocol

from prometheus_client import Counter

from notification_svc.domain import Notification, RetryPolicy, after_failure, after_success
from yoga_common.wakeup import Wakeup

log = logging.getLogger(__name__)

DELIVERIES = Counter(
    "yoga_notification_deliveries_total",
    "Email delivery attempts by the state they left the notification in: sent, retry (to be "
    "tried again later), failed (given up).",
    ["state"],
)


class Sender(Protocol):
    def send(self, message: Message) -> None:
        """Hands the message to the mail server; raises if it was not accepted."""


class Deliveries(Protocol):
    """The service layer's steps of a delivery (NotificationService)."""

    async def claim_due(
        self, now: datetime, until: datetime, limit: int
    ) -> tuple[list[Notification], str]: ...

    def finish(self, n: Notification, claim_id: str) -> bool:
        """Records an email's outcome (from the sending thread: it blocks)."""

    async def finish_all(self, outcomes: list[Notification], claim_id: str) -> list[bool]: ...


class SmtpSender:
    """One SMTP connection, kept open from one email to the next: a connection per email
    (connect, EHLO, QUIT) cost more than the email itself in a burst (bench/). A connection
    the server has closed meanwhile is found by a NOOP before the next email and replaced;
    an email is never sent twice by this class (a failure during sending is raised)."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._host = host
        self._port = port
        self._timeout = timeout
        self._smtp: smtplib.SMTP | None = None
        self._lock = threading.Lock()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            try:
                if self._smtp.noop()[0] == 250:
                    return self._smtp
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        self._smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
        return self._smtp

    def send(self, message: Message) -> None:
        with self._lock:
            smtp = self._connection()
            try:
                smtp.send_message(message)
            except (smtplib.SMTPServerDisconnected, OSError):
                self.close()
                raise
            except smtplib.SMTPException:
                try:
                    smtp.rset()  # a refused message leaves the session usable
                except (smtplib.SMTPException, OSError):
                    self.close()
                raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def message_id(notification_id: str, sender: str) -> str:
    domain = parseaddr(sender)[1].rpartition("@")[2] or "yoga.example"
    return f"<{notification_id}@{domain}>"


# UTF-8 text sent as it is (8bit, or 7bit when it is ASCII), as EmailMessage.set_content does.
_UTF8 = Charset("utf-8")
# None is the documented "no encoding"; typeshed types the attribute int.
_UTF8.body_encoding = None  # type: ignore[assignment]


def _checked(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise ValueError("a header value holds a line break")
    return value


def _text(value: str) -> str:
    """A text header's value: as it is when ASCII, else an RFC 2047 encoded word."""
    return value if _checked(value).isascii() else Header(value, "utf-8").encode()


def _address(value: str) -> str:
    """An address header's value: a display name that is not ASCII is encoded, the address
    never is."""
    return value if _checked(value).isascii() else formataddr(parseaddr(value), "utf-8")


def compose(n: Notification, sender: str) -> Message:
    """The email of a notification, with the email package's compat32 API (Message): the same
    message on the wire as EmailMessage gives for these headers and a text body, in a fifth of
    its CPU (EmailMessage's header objects were 31 % of notification_svc's busy samples in a
    burst, BENCHMARKS.md). Raises ValueError for a value no email can carry."""
    message = Message()  # set_charset makes it text/plain; charset="utf-8"
    message.set_payload(n.body, _UTF8)
    message["From"] = _address(sender)
    message["To"] = _address(n.email)
    message["Subject"] = _text(n.subject)
    message["Date"] = format_datetime(n.create_time)
    message["Message-ID"] = message_id(n.notification_id, sender)
    return message


def is_permanent(err: Exception) -> bool:
    """The server refused this message for good (5xx for every recipient or its data)."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return bool(err.recipients) and all(code >= 500 for code, _ in err.recipients.values())
    if isinstance(err, smtplib.SMTPDataError):
        return err.smtp_code >= 500
    return False


class Mailer:
    def __init__(
        self,
        deliveries: Deliveries,
        sender: Sender,
        from_address: str,
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        batch_size: int = 10,
        poll_seconds: float = 0.5,
        claim_seconds: float = 120.0,
    ) -> None:
        self._deliveries = deliveries
        self._sender = sender
        self._from = from_address
        self._policy = policy
        self._now = clock
        self._batch = batch_size
        self._poll = poll_seconds
        self._claim = timedelta(seconds=claim_seconds)
        self._wakeup = Wakeup()

    def wake(self) -> None:
        """A new notification was committed (any thread): deliver now, not at the next poll."""
        self._wakeup.set()

    async def deliver_due(self) -> int:
        """One pass over the notifications due now (a batch); returns how many it sent."""
        now = self._now()
        claimed, claim_id = await self._deliveries.claim_due(now, now + self._claim, self._batch)
        if not claimed:
            return 0
        # Past this point nothing more is sent on the lease: an email begun before it ends
        # within an SMTP timeout, well inside the lease (settings: lease >= 10 x timeout).
        deadline = time.monotonic() + self._claim.total_seconds() / 2
        stop = threading.Event()
        job = asyncio.ensure_future(
            asyncio.to_thread(self._send_batch, claimed, claim_id, deadline, stop)
        )
        try:
            sent, done = await asyncio.shield(job)
        except asyncio.CancelledError:
            stop.set()  # the email on its way is finished and recorded before stopping
            _, done = await job
            await self._hand_back(claimed[done:], claim_id)
            raise
        await self._hand_back(claimed[done:], claim_id)
        return sent

    def _send_batch(
        self, claimed: list[Notification], claim_id: str, deadline: float, stop: threading.Event
    ) -> tuple[int, int]:
        """In the worker thread: each email in turn, until the batch, the lease or a stop
        ends; returns how many were sent and how many were dealt with."""
        sent = 0
        for index, n in enumerate(claimed):
            if stop.is_set() or time.monotonic() >= deadline:
                return sent, index
            sent += self._deliver(n, claim_id)
        return sent, len(claimed)

    async def _hand_back(self, unsent: list[Notification], claim_id: str) -> None:
        """Claimed but not sent: due again at once, no try counted, the claim released."""
        if unsent:
            now = self._now()
            await self._deliveries.finish_all(
                [replace(n, next_attempt_at=now) for n in unsent], claim_id
            )

    def _deliver(self, n: Notification, claim_id: str) -> bool:
        try:
            message = compose(n, self._from)
        except (ValueError, TypeError) as err:
            return self._failed(n, claim_id, err, permanent=True)
        try:
            self._sender.send(message)
        except Exception as err:  # every failed try counts, so retries stay bounded
            return self._failed(n, claim_id, err, permanent=is_permanent(err))
        # Recorded before the next email goes out: a crash then can send at most this one
        # twice (the batch's others are recorded, or not sent yet).
        if not self._deliveries.finish(after_success(n, self._now()), claim_id):
            log.warning("claim lost while sending", extra={"notification_id": n.notification_id})
        DELIVERIES.labels("sent").inc()
        log.info("email sent", extra={"notification_id": n.notification_id})
        return True

    def _failed(self, n: Notification, claim_id: str, err: Exception, permanent: bool) -> bool:
        error = f"{type(err).__name__}: {err}"
        after = after_failure(n, self._now(), error, self._policy, permanent)
        self._deliveries.finish(after, claim_id)
        state = after.email_state.value.lower()
        DELIVERIES.labels("retry" if state == "pending" else state).inc()
        log.warning(
            "email not sent",
            extra={
                "notification_id": n.notification_id,
                "attempts": after.attempts,
                "email_state": after.email_state.value,
                "error": error,
            },
        )
        return False

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                sent = await self.deliver_due()
                failures = 0
                if sent < self._batch:  # a full batch: more may be due right away
                    await self._wakeup.wait(self._poll)
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                log.exception("mail pass failed; trying again")
                await asyncio.sleep(min(self._poll * 2**failures, 30.0))

"""The mailer's batch (issue 17) on SQLite and PostgreSQL against a real SMTP server: a batch is
claimed in one transaction, each email's outcome is its own (a refused address fails no other)
and recorded before the next email goes out, and a mailer that died after claiming leaves its
batch to the next one once the lease ends, each email then carrying the Message-ID the dead
mailer would have used."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from devtools.smtp_sink import MailDir
from notification_svc.domain import EmailState
from notification_svc.mailer import SmtpSender, compose
from notification_svc.service import NotificationService
from notification_svc.storage import NotificationStore
from tests.integration.conftest import BACKENDS, migrated_database
from tests.integration.support import eventually
from tests.integration.test_notification_service import (
    SENDER,
    SmtpServer,
    all_notifications,
    confirmed,
    consumer,
    mailer,
    smtp,  # noqa: F401  (the fixture)
)
from yoga_common.db import Database
from yoga_common.timestamps import utcnow
from yoga_common.uow import Transactions

pytestmark = pytest.mark.integration

REFUSED = "nobody@example.com"


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with migrated_database(request.param, tmp_path, "notification") as database:
        yield database


class RefusingMailDir(MailDir):
    """Refuses one address for good (550), accepts the rest."""

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def counting(db: Database) -> list[int]:
    """Counts the transactions `db` opens from now on."""
    opened: list[int] = []
    transaction = db.transaction

    def counted(write: bool = True) -> object:
        opened.append(1)
        return transaction(write)

    db.transaction = counted  # type: ignore[assignment,method-assign]
    return opened


async def test_one_refused_address_fails_no_other_email_of_its_batch(
    db: Database,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    smtp.start(RefusingMailDir(smtp.folder))
    c = consumer(db)
    for i in range(5):
        c.apply(confirmed(f"u{i}", REFUSED if i == 2 else f"u{i}@example.com"))
    opened = counting(db)
    m = mailer(db, smtp, batch=10)
    assert await m.deliver_due() == 4
    # One claim for the batch and one record per email (a read, then a claim and a record
    # per email, before).
    assert len(opened) == 1 + 5
    states = {n.user_id: (n.email_state, n.attempts) for n in all_notifications(db)}
    assert states == {
        "u0": (EmailState.SENT, 0),
        "u1": (EmailState.SENT, 0),
        "u2": (EmailState.FAILED, 1),
        "u3": (EmailState.SENT, 0),
        "u4": (EmailState.SENT, 0),
    }
    [refused] = [n for n in all_notifications(db) if n.user_id == "u2"]
    assert "550" in refused.last_error
    assert sorted(str(msg["To"]) for msg in smtp.received()) == [
        f"u{i}@example.com" for i in (0, 1, 3, 4)
    ]
    assert await m.deliver_due() == 0
    assert len(smtp.received()) == 4


async def test_a_batch_claimed_by_a_mailer_that_died_is_sent_once_its_lease_ends(
    db: Database,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    """The dead mailer claimed three and died right after the server took the first, before
    recording it: the next mailer waits for the lease, then sends all three, the first again
    with the Message-ID the dead one used, so a receiver can drop the duplicate."""
    smtp.start()
    c = consumer(db)
    for i in range(3):
        c.apply(confirmed(f"u{i}", f"u{i}@example.com"))
    deliveries = NotificationService(Transactions(db, NotificationStore))
    now = utcnow()
    claimed, _claim = await deliveries.claim_due(now, now + timedelta(seconds=1.5), 10)
    assert len(claimed) == 3
    dead = SmtpSender("127.0.0.1", smtp.port, timeout=5.0)
    dead.send(compose(claimed[0], SENDER))
    dead.close()
    # Another mailer claims nothing while the lease holds.
    m = mailer(db, smtp)
    assert await m.deliver_due() == 0
    again, _ = await deliveries.claim_due(utcnow(), utcnow() + timedelta(seconds=60), 10)
    assert again == []

    async def all_sent() -> bool:
        await m.deliver_due()
        return {n.email_state for n in all_notifications(db)} == {EmailState.SENT}

    await eventually(all_sent, within=10.0)
    ids = [str(msg["Message-ID"]) for msg in smtp.received()]
    expected = {f"<{n.notification_id}@yoga.example>" for n in claimed}
    assert set(ids) == expected
    assert sorted(ids.count(i) for i in expected) == [1, 1, 2]
    assert {n.attempts for n in all_notifications(db)} == {0}
    assert await m.deliver_due() == 0
    assert len(smtp.received()) == 4


async def test_a_batch_hands_back_what_it_had_no_time_to_send(
    db: Database,
    smtp: SmtpServer,  # noqa: F811
) -> None:
    """Past half its lease a batch sends nothing more: the rest is due again at once, no try
    counted, and the next pass sends it."""
    smtp.start()
    c = consumer(db)
    for i in range(3):
        c.apply(confirmed(f"u{i}", f"u{i}@example.com"))
    m = mailer(db, smtp)
    m._claim = timedelta(0)  # half of no lease is already gone
    assert await m.deliver_due() == 0
    assert smtp.received() == []
    assert {(n.email_state, n.attempts) for n in all_notifications(db)} == {(EmailState.PENDING, 0)}
    assert await mailer(db, smtp).deliver_due() == 3
    assert len(smtp.received()) == 3

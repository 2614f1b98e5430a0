//! The marketplace pace: on PostgreSQL, two pacers (two server instances) share one
//! limit through the database; a 429's hold-off reaches every instance; and a task
//! whose items step aside for quota says until when it waits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::db_test;
use backend::pacing::{Pace, Pacer, Turn};
use std::time::{Duration, Instant};

const PACE: Pace = Pace {
    per_second: 20,
    burst: 1,
};

/// Reserves `n` turns from each pacer at once and returns, for each, the turn and when it
/// was answered.
async fn reserve_together(a: &Pacer, b: &Pacer, n: usize) -> Vec<(Instant, Turn)> {
    async fn timed(pacer: &Pacer) -> (Instant, Turn) {
        let turn = pacer.turn("seller-1").await.unwrap();
        (Instant::now(), turn)
    }
    let calls = (0..n).flat_map(|_| [timed(a), timed(b)]);
    futures::future::join_all(calls).await
}

db_test!(two_instances_share_one_pace_on_postgres, |db| {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        // On SQLite there is one process; its pace lives in memory (unit-tested).
        return;
    }
    let (a, b) = (Pacer::shared(PACE, db), Pacer::shared(PACE, db));
    let start = Instant::now();
    let turns = reserve_together(&a, &b, 15).await;
    // When each slot falls, from the start: the answer's arrival plus the wait it gave.
    // (Waits alone shift with how late each call was answered, which a busy machine
    // stretches; the slots do not.)
    let mut slots: Vec<Duration> = turns
        .iter()
        .map(|(answered, turn)| match turn {
            Turn::After(wait) => *answered - start + *wait,
            Turn::HeldOff(wait) => panic!("held off {wait:?} with no 429"),
        })
        .collect();
    slots.sort();
    // 30 calls at 20/s: the last slot is ~1.45 s out. Two separate limits would have
    // put it at ~0.7 s.
    let (first, last) = (slots[0], slots[slots.len() - 1]);
    assert!(last >= Duration::from_millis(1_300), "{slots:?}");
    // At least one interval per call on average: no slot was handed out twice. (A
    // stall of the machine or the database only spreads them out; that is not checked.)
    let mean = (last - first) / (slots.len() as u32 - 1);
    assert!(mean >= Duration::from_millis(40), "{mean:?}: {slots:?}");
    // Another account has its own pace.
    assert!(matches!(
        a.turn("seller-2").await.unwrap(),
        Turn::After(wait) if wait < Duration::from_millis(20)
    ));
});

db_test!(a_hold_off_reaches_every_instance, |db| {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let (a, b) = (Pacer::shared(PACE, db), Pacer::shared(PACE, db));
    a.hold_off("seller-1", Duration::from_secs(30))
        .await
        .unwrap();
    match b.turn("seller-1").await.unwrap() {
        Turn::HeldOff(wait) => assert!(wait > Duration::from_secs(29), "{wait:?}"),
        other => panic!("{other:?}"),
    }
    // Nothing was reserved while held off, so the wait does not grow by asking.
    let again = b.turn("seller-1").await.unwrap();
    assert!(matches!(again, Turn::HeldOff(wait) if wait <= Duration::from_secs(30)));
    // A short hold-off is slept through by the caller.
    b.hold_off("seller-3", Duration::from_millis(500))
        .await
        .unwrap();
    assert!(matches!(
        a.turn("seller-3").await.unwrap(),
        Turn::After(wait) if wait > Duration::from_millis(400)
    ));
});

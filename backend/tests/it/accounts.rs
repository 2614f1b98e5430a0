//! Seller accounts and sessions, on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use backend::db_test;

use backend::accounts::{self, AccountError};
use backend::domain::{Email, Password};
use backend::sessions::{self, SessionPolicy};
use chrono::{Duration, Utc};

async fn seller(db: &backend::DatabaseConnection, email: &str) -> accounts::Seller {
    accounts::create_seller(
        db,
        &Email::parse(email).unwrap(),
        None,
        &Password::parse("correct horse battery").unwrap(),
    )
    .await
    .unwrap()
}

db_test!(created_seller_can_authenticate_case_insensitively, |db| {
    let created = seller(db, "Ana@Example.com").await;
    assert_eq!(created.email, "ana@example.com");
    assert_eq!(created.display_name, "ana");

    let found = accounts::authenticate(db, "  ANA@example.com", "correct horse battery")
        .await
        .unwrap();
    assert_eq!(found.id, created.id);
});

db_test!(wrong_password_and_unknown_email_fail_the_same_way, |db| {
    seller(db, "ana@example.com").await;
    let wrong_password = accounts::authenticate(db, "ana@example.com", "nope nope nope")
        .await
        .unwrap_err();
    let unknown_email = accounts::authenticate(db, "bob@example.com", "correct horse battery")
        .await
        .unwrap_err();
    let malformed = accounts::authenticate(db, "not an email", "x")
        .await
        .unwrap_err();
    for err in [wrong_password, unknown_email, malformed] {
        assert!(matches!(err, AccountError::InvalidCredentials), "{err:?}");
    }
});

db_test!(an_email_can_only_be_registered_once, |db| {
    seller(db, "ana@example.com").await;
    let again = accounts::create_seller(
        db,
        &Email::parse("ANA@example.com").unwrap(),
        None,
        &Password::parse("another long one").unwrap(),
    )
    .await;
    assert!(matches!(again, Err(AccountError::EmailTaken)));
});

db_test!(a_session_resolves_to_its_seller_until_logout, |db| {
    let ana = seller(db, "ana@example.com").await;
    let policy = SessionPolicy::default();
    let now = Utc::now();
    let token = sessions::start(db, ana.id, policy, now).await.unwrap();

    let resolved = sessions::resolve(db, &token, policy, now + Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(resolved.map(|s| s.id), Some(ana.id));

    sessions::end(db, &token).await.unwrap();
    assert_eq!(
        sessions::resolve(db, &token, policy, now).await.unwrap(),
        None
    );
});

db_test!(
    session_expires_after_idle_time_but_activity_extends_it,
    |db| {
        let ana = seller(db, "ana@example.com").await;
        let policy = SessionPolicy {
            idle: Duration::minutes(30),
            absolute: Duration::hours(8),
        };
        let t0 = Utc::now();
        let token = sessions::start(db, ana.id, policy, t0).await.unwrap();

        // Active every 20 minutes: still alive after an hour.
        for step in 1..=3 {
            let at = t0 + Duration::minutes(20 * step);
            assert!(
                sessions::resolve(db, &token, policy, at)
                    .await
                    .unwrap()
                    .is_some(),
                "alive at step {step}"
            );
        }
        // Then 31 idle minutes end it, and it stays ended.
        let idle_end = t0 + Duration::minutes(60 + 31);
        assert_eq!(
            sessions::resolve(db, &token, policy, idle_end)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            sessions::resolve(db, &token, policy, t0 + Duration::minutes(61))
                .await
                .unwrap(),
            None
        );
    }
);

db_test!(session_ends_at_absolute_timeout_despite_activity, |db| {
    let ana = seller(db, "ana@example.com").await;
    let policy = SessionPolicy {
        idle: Duration::hours(1),
        absolute: Duration::hours(2),
    };
    let t0 = Utc::now();
    let token = sessions::start(db, ana.id, policy, t0).await.unwrap();
    for minutes in [50, 100] {
        assert!(
            sessions::resolve(db, &token, policy, t0 + Duration::minutes(minutes))
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(
        sessions::resolve(db, &token, policy, t0 + Duration::minutes(121))
            .await
            .unwrap(),
        None
    );
});

db_test!(purge_removes_only_expired_sessions, |db| {
    let ana = seller(db, "ana@example.com").await;
    let policy = SessionPolicy {
        idle: Duration::minutes(30),
        absolute: Duration::hours(8),
    };
    let t0 = Utc::now();
    let old = sessions::start(db, ana.id, policy, t0 - Duration::hours(1))
        .await
        .unwrap();
    let fresh = sessions::start(db, ana.id, policy, t0).await.unwrap();
    assert_eq!(sessions::purge_expired(db, policy, t0).await.unwrap(), 1);
    assert!(sessions::resolve(db, &fresh, policy, t0)
        .await
        .unwrap()
        .is_some());
    assert!(sessions::resolve(db, &old, policy, t0)
        .await
        .unwrap()
        .is_none());
});

db_test!(tokens_are_random_and_not_stored_in_clear, |db| {
    use sea_orm::EntityTrait;
    let ana = seller(db, "ana@example.com").await;
    let policy = SessionPolicy::default();
    let a = sessions::start(db, ana.id, policy, Utc::now())
        .await
        .unwrap();
    let b = sessions::start(db, ana.id, policy, Utc::now())
        .await
        .unwrap();
    assert_ne!(a, b);
    assert!(a.as_str().len() >= 43);
    let stored = backend::entities::session::Entity::find()
        .all(db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|row| row.id != a.as_str() && row.id != b.as_str()));
});

db_test!(
    a_sellers_time_zone_is_remembered_and_read_with_daylight_saving,
    |db| {
        let ana = seller(db, "ana@example.com").await;
        assert_eq!(ana.time_zone, None);
        let noon = |month: u32| {
            use chrono::TimeZone;
            Utc.with_ymd_and_hms(2026, month, 15, 12, 0, 0).unwrap()
        };
        // Until the browser says, times read in UTC.
        assert_eq!(ana.offset_at(noon(1)).local_minus_utc(), 0);

        accounts::set_time_zone(db, ana.id, "Europe/Paris")
            .await
            .unwrap();
        let ana = accounts::find_seller(db, ana.id).await.unwrap().unwrap();
        assert_eq!(ana.time_zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(ana.offset_at(noon(1)).local_minus_utc(), 3600);
        assert_eq!(ana.offset_at(noon(7)).local_minus_utc(), 7200);

        // A name the zone database does not know is refused, and the remembered one stays.
        let refused = accounts::set_time_zone(db, ana.id, "Mars/Olympus_Mons").await;
        assert!(
            matches!(refused, Err(AccountError::UnknownTimeZone(_))),
            "{refused:?}"
        );
        let ana = accounts::find_seller(db, ana.id).await.unwrap().unwrap();
        assert_eq!(ana.time_zone.as_deref(), Some("Europe/Paris"));
        assert_eq!(
            accounts::offset_in(Some("Not/AZone"), noon(1)).local_minus_utc(),
            0
        );
    }
);

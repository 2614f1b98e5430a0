//! Fifty sellers at once, each publishing 100 items, on PostgreSQL with three server
//! processes sharing the work. Each seller's task starts within a second of being asked
//! (p95 of the pickups), every seller makes progress all along (nobody starved while the
//! others run), and each listing is created once.

use crate::chaos::check;
use crate::chaos::postgres::Cluster;
use crate::chaos::support::{sandbox, Server, Session, Spec};
use std::time::{Duration, Instant};

const SELLERS: usize = 50;
const ITEMS: usize = 100;

#[tokio::test]
#[ignore = "chaos: run by `make chaos`"]
async fn fifty_sellers_on_three_processes() {
    let Some((_cluster, url, db)) = Cluster::with_database().await else {
        return;
    };
    let marketplace = sandbox();
    let mut sellers = Vec::new();
    for n in 0..SELLERS {
        let email = format!("seller{n}@example.com");
        let (id, items) = backend::testing::seller_with_items(&db, &email, ITEMS).await;
        sellers.push((email, id, items));
    }
    backend::testing::make_all_listable(&db).await;

    let logs = tempfile::tempdir().unwrap();
    let spec = Spec::new(&url, &marketplace.url).workers(8);
    let mut servers = Vec::new();
    for n in 0..3 {
        servers.push(Server::start(&spec, logs.path(), &format!("server-{n}")).await);
    }
    let mut sessions = Vec::new();
    for (n, (email, _, _)) in sellers.iter().enumerate() {
        sessions.push(Session::login(&servers[n % servers.len()].base, email).await);
    }

    // Everyone asks at once, each through the server their browser happens to reach.
    let asked = Instant::now();
    let asks =
        sessions
            .iter()
            .zip(&sellers)
            .map(|(session, (_, _, items))| async move {
                (session.publish(items).await, asked.elapsed())
            });
    let (tasks, answered): (Vec<i64>, Vec<Duration>) =
        futures::future::join_all(asks).await.into_iter().unzip();
    eprintln!(
        "all fifty asked; answers within {:?}",
        answered.iter().max().unwrap()
    );

    // Halfway through the whole, every seller is well under way.
    let total = (SELLERS * ITEMS) as i64;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut halfway = None;
    let finished = loop {
        let mut done = Vec::with_capacity(tasks.len());
        for &id in &tasks {
            let task = backend::tasks::load(&db, id).await.unwrap();
            done.push((task.counts.succeeded + task.counts.failed, task));
        }
        let sum: i64 = done.iter().map(|(n, _)| n).sum();
        if halfway.is_none() && sum * 2 >= total {
            halfway = Some(done.iter().map(|(n, _)| *n).collect::<Vec<i64>>());
        }
        if done.iter().all(|(_, task)| task.status.is_terminal()) {
            break done.into_iter().map(|(_, task)| task).collect::<Vec<_>>();
        }
        assert!(
            Instant::now() < deadline,
            "did not finish: {sum} of {total}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let halfway = halfway.expect("a halfway point");
    let least = *halfway.iter().min().unwrap();
    let most = *halfway.iter().max().unwrap();
    eprintln!("halfway: each seller had {least} to {most} of {ITEMS} items done");
    assert!(
        least * 5 >= ITEMS as i64,
        "a seller was starved: {least} of {ITEMS} done when the whole was half done ({halfway:?})"
    );

    let mut pickups: Vec<Duration> = finished
        .iter()
        .map(|task| {
            let started = task.started_at.expect("started");
            (started - task.created_at).to_std().unwrap_or_default()
        })
        .collect();
    pickups.sort();
    let p95 = pickups[pickups.len() * 95 / 100];
    eprintln!(
        "pickup: median {:?}, p95 {p95:?}, worst {:?}",
        pickups[pickups.len() / 2],
        pickups.last().unwrap()
    );
    assert!(p95 < Duration::from_secs(1), "p95 pickup {p95:?}");
    for task in &finished {
        assert_eq!(task.counts.succeeded, ITEMS as i64, "{:?}", task.counts);
    }

    let stats = crate::common::processes::stats(&marketplace.url).await;
    let whole = check::whole(&db, Some(&stats)).await;
    assert_eq!(whole.listings, total, "{stats}");
    drop(servers);
}

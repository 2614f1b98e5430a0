//! The SQLite file's disk fills up in the middle of an import (the database lives on a
//! small tmpfs, and a file takes the rest of its space). The server stays up and says
//! what happened: a new upload is refused with `storage_full` (503) and its words, and
//! pages still read. The database stays whole (`PRAGMA integrity_check`). Once the space
//! is freed, the same import goes on by itself and ends with every row imported once.

use crate::chaos::check;
use crate::chaos::support::{csv, sandbox, wait_task, Server, Session, Spec};
use sea_orm::{ConnectionTrait, Statement};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ROWS: usize = 3_000;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(megabytes: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .ok()?;
        status.success().then_some(Self { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Writes zeros to `path` until the disk refuses more.
fn fill(path: &PathBuf) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    let mut written = 0;
    while let Ok(n) = file.write(&block) {
        if n == 0 {
            break;
        }
        written += n as u64;
    }
    // The last partial blocks.
    while let Ok(n) = file.write(&block[..512]) {
        if n == 0 {
            break;
        }
        written += n as u64;
    }
    written
}

async fn integrity(db: &backend::DatabaseConnection) -> String {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        "PRAGMA integrity_check",
    ))
    .await
    .expect("the check runs")
    .expect("a row")
    .try_get::<String>("", "integrity_check")
    .expect("its answer")
}

#[tokio::test]
#[ignore = "chaos: run by `make chaos`"]
async fn sqlite_disk_full_during_an_import() {
    let Some(disk) = Tmpfs::mount(48) else {
        assert!(
            !crate::chaos::support::is_root(),
            "root could not mount a tmpfs"
        );
        eprintln!("SKIPPED: the disk-full scenario mounts a tmpfs, which needs root");
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        disk.path().join("chaos.db").display()
    );
    let db = crate::chaos::support::migrated(&url).await;
    let marketplace = sandbox();
    let (seller, _) = backend::testing::seller_with_items(&db, "full@example.com", 0).await;
    let server = Server::start(&Spec::new(&url, &marketplace.url), logs.path(), "server").await;
    let session = Session::login(&server.base, "full@example.com").await;

    let upload = session
        .upload("/api/v1/imports", "items.csv", &csv("FULL", ROWS))
        .await;
    assert_eq!(upload.status, 202, "{}", upload.body);
    let import = upload.json()["id"].as_i64().unwrap();
    wait_task(
        &db,
        import,
        Duration::from_secs(120),
        "a tenth imported",
        |t| t.counts.succeeded >= (ROWS / 10) as i64,
    )
    .await;

    let filler = disk.path().join("filler");
    let filled = fill(&filler);
    eprintln!("filled the disk with {} KiB", filled / 1024);

    // The import stalls; the seller is told why when saving anything.
    // The engine runs out of room first: wait until the import stops moving.
    let mut last = -1;
    let quiet_until = Instant::now() + Duration::from_secs(60);
    loop {
        let now = backend::tasks::load(&db, import)
            .await
            .unwrap()
            .counts
            .succeeded;
        if now == last {
            break;
        }
        assert!(Instant::now() < quiet_until, "the import never stalled");
        last = now;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // Uploads that still fit (the file may have had free pages) are imports like any.
    let mut uploads = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let refused = loop {
        let reply = session
            .upload(
                "/api/v1/imports",
                "more.csv",
                &csv(&format!("MORE{}", uploads.len()), 50),
            )
            .await;
        if reply.status == 503 {
            break reply;
        }
        assert_eq!(reply.status, 202, "{}", reply.body);
        uploads.push(reply.json()["id"].as_i64().unwrap());
        assert!(
            Instant::now() < deadline,
            "a full disk was never reported: {} {}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let error = &refused.json()["error"];
    assert_eq!(error["code"], "storage_full", "{}", refused.body);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("out of storage space"),
        "{}",
        refused.body
    );
    let stalled = backend::tasks::load(&db, import).await.unwrap();
    assert!(
        !stalled.status.is_terminal(),
        "stalled mid-import: {:?}",
        stalled.counts
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = backend::tasks::load(&db, import).await.unwrap();
    assert_eq!(
        still.counts.succeeded, stalled.counts.succeeded,
        "nothing is recorded while the disk is full"
    );
    // Pages still read, the server is alive, and the file is whole.
    let page = session.get(&format!("/api/v1/tasks/{import}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(integrity(&db).await, "ok");

    // Space returns: the same import goes on by itself.
    std::fs::remove_file(&filler).unwrap();
    let done = wait_task(&db, import, Duration::from_secs(180), "the end", |t| {
        t.status.is_terminal()
    })
    .await;
    assert_eq!(done.counts.succeeded, ROWS as i64, "{:?}", done.counts);
    let again = session
        .upload("/api/v1/imports", "again.csv", &csv("AGAIN", 50))
        .await;
    assert_eq!(again.status, 202, "saving works again: {}", again.body);
    uploads.push(again.json()["id"].as_i64().unwrap());
    for &id in &uploads {
        let done = wait_task(&db, id, Duration::from_secs(60), "a later import", |t| {
            t.status.is_terminal()
        })
        .await;
        assert_eq!(done.counts.succeeded, 50, "{:?}", done.counts);
    }
    let all = (ROWS + 50 * uploads.len()) as i64;
    let by_file: Vec<(String, i64)> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT substr(sku, 1, instr(sku, '-') - 1) AS file, COUNT(*) AS n FROM items GROUP BY 1",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| (row.try_get("", "file").unwrap(), row.try_get("", "n").unwrap()))
        .collect();
    assert_eq!(
        check::catalog(&db, seller).await,
        (all, all),
        "items by file: {by_file:?}; imports {uploads:?}"
    );
    let whole = check::whole(&db, None).await;
    assert_eq!(whole.items, all);
    assert_eq!(integrity(&db).await, "ok");
    let log = server.log_text();
    assert!(
        !log.contains("panicked"),
        "the server did not panic; its log:\n{log}"
    );
}

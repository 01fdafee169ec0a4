//! Schema migrations on a database in use: a migration that cannot have its table's lock soon
//! gives way (traffic queues behind a waiting migration), tries again, and names what held it.

use std::time::Duration;

use upload_coordinator::db::{DbError, LockWait, migrate_waiting};

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn a_migration_gives_way_to_a_long_transaction_then_applies_once_it_ends() {
    let app = spawn_app_with(&["--outbox-relay=false"]).await;
    // As before migration 12: its column gone, its row unrecorded.
    app.db
        .batch_execute(
            "ALTER TABLE outbox DROP COLUMN claim_token; \
             DELETE FROM schema_migrations WHERE version = 12",
        )
        .await
        .unwrap();
    // A transaction left open on the table (an operator's session, say).
    let mut holder = app.pooled_db().await;
    let open = holder.transaction().await.unwrap();
    open.execute("SELECT count(*) FROM outbox", &[])
        .await
        .unwrap();

    let pool = app.db_pool();
    let wait = LockWait {
        timeout: Duration::from_millis(200),
        attempts: 2,
        pause: Duration::from_millis(100),
    };
    let err = migrate_waiting(&pool, wait).await.unwrap_err();
    assert!(
        matches!(
            err,
            DbError::MigrationLockWait {
                version: 12,
                attempts: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("outbox_claim_token"), "{err}");
    // Nothing was applied meanwhile.
    let recorded: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM schema_migrations WHERE version = 12",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, 0);

    open.rollback().await.unwrap();
    assert_eq!(migrate_waiting(&pool, wait).await.unwrap(), 1);
    let column: i64 = app
        .db
        .query_one(
            "SELECT count(*) FROM information_schema.columns \
             WHERE table_name = 'outbox' AND column_name = 'claim_token'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(column, 1);
}

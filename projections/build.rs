// `sqlx::migrate!` embeds the migrations when this crate compiles; without this, cargo
// would not notice a migration added later and keep the old set (sqlx's own advice).
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}

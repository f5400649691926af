//! Asserts that a secret was stored nowhere: no file of the data dir (database, WAL,
//! blobs' directory entries) holds it in clear.

use std::path::Path;

pub fn assert_no_file_holds(dir: &Path, secret: &str) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_file() {
            let hay = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
            assert!(!hay.contains(secret), "{} holds the secret", p.display());
        }
    }
}

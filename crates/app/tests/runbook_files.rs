//! The runbook library reads only regular files with one link whose real path is inside
//! the runbook directory (issue 21, point 8): a hard link once served `/etc/passwd`'s
//! first line as a runbook title. The others are listed as unreadable, with why.

use sitrep_app::Library;

#[test]
fn links_devices_and_outside_files_are_not_read_and_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runbooks");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("good.md"), "# Good\n").unwrap();
    std::fs::write(root.join("sub/also.md"), "# Also good\n").unwrap();
    let outside = tmp.path().join("outside.md");
    std::fs::write(&outside, "# Outside title\n").unwrap();
    std::fs::hard_link(&outside, root.join("hard.md")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("soft.md")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", root.join("zero.md")).unwrap();
    // A link to a directory outside is not followed either.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("x.md"), "# Elsewhere\n").unwrap();
    std::os::unix::fs::symlink(&elsewhere, root.join("linked-dir")).unwrap();

    let lib = Library::load(&root, &[]).unwrap();
    let titles: Vec<&str> = lib
        .entries()
        .iter()
        .map(|e| e.runbook.title.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(titles, ["Good", "Also good"]);
    let why = |name: &str| {
        lib.unreadable
            .iter()
            .find(|(p, _)| p == name)
            .map(|(_, w)| w.clone())
            .unwrap_or_default()
    };
    assert!(
        why("hard.md").contains("2 hard links"),
        "{:?}",
        lib.unreadable
    );
    assert!(
        why("soft.md").contains("symbolic link"),
        "{:?}",
        lib.unreadable
    );
    assert!(
        why("zero.md").contains("symbolic link"),
        "{:?}",
        lib.unreadable
    );
    assert_eq!(lib.unreadable.len(), 3, "{:?}", lib.unreadable);
}

#[test]
fn a_single_file_is_capped_and_must_be_regular() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.md");
    std::fs::write(
        &big,
        vec![b'x'; (sitrep_app::MAX_RUNBOOK_BYTES + 1) as usize],
    )
    .unwrap();
    let e = sitrep_app::read_runbook(None, &big).unwrap_err();
    assert!(e.contains("more than the limit"), "{e}");
    let e = sitrep_app::read_runbook(None, std::path::Path::new("/dev/null")).unwrap_err();
    assert!(e.contains("not a regular file"), "{e}");
}

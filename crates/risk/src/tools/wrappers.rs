//! Wrappers: commands that run another command (`sudo`, `timeout`, `xargs`, `kubectl exec`)
//! or hand a script to a shell (`bash -c`, `ssh host CMD`, `watch`, `eval`, `su -c`). They
//! add a read-level note and never lower what they run.

use super::{Outcome, basename, classify_words, positional, reason, skip_opts};
use crate::shell::classify_script;
use crate::{Classifier, Level, VALUE_MARKER, VALUE_REREAD_RULE};

/// Wrappers that run the words after their options: names, options taking a value, and how
/// many positional words come before the command (`timeout 5 CMD`, `chroot DIR CMD`).
const SIMPLE: &[(&[&str], &[&str], usize)] = &[
    (
        &["sudo", "doas"],
        &[
            "-u", "-g", "-C", "-h", "-p", "-r", "-t", "-U", "-D", "--user", "--group",
        ],
        0,
    ),
    (&["timeout"], &["-s", "-k", "--signal", "--kill-after"], 1),
    (&["nice"], &["-n", "--adjustment"], 0),
    (&["ionice"], &["-c", "-n", "--class", "--classdata"], 0),
    (&["nohup", "exec", "command", "builtin", "unbuffer"], &[], 0),
    (&["time"], &["-f", "--format"], 0),
    (&["stdbuf"], &["-i", "-o", "-e"], 0),
    (&["chroot"], &["--userspec", "--groups"], 1),
    (
        &["nsenter"],
        &["-t", "--target", "-S", "-G", "--setuid", "--setgid"],
        0,
    ),
];

const XARGS_OPTS: &[&str] = &[
    "-I",
    "-n",
    "-P",
    "-L",
    "-d",
    "-E",
    "-s",
    "-a",
    "--arg-file",
    "--delimiter",
    "--max-args",
    "--max-procs",
    "--max-lines",
    "--eof",
];

/// Stands for xargs' input while its command is classified: a second parser that reads it
/// (`xargs -I{} sh -c 'rm {}'`) builds code from input.
const XARGS_INPUT: &str = "__sitrep_xargs_input__";

/// A [`VALUE_REREAD_RULE`] reason when `text`, about to be read by a second parser, holds
/// [`VALUE_MARKER`] (or xargs' input, which is a value from elsewhere too).
pub(crate) fn value_reread(text: &str) -> Option<crate::Reason> {
    if text.contains(VALUE_MARKER) {
        Some(reason(VALUE_REREAD_RULE, text, Level::Unknown))
    } else if text.contains(XARGS_INPUT) {
        Some(reason("xargs input re-read", text, Level::Unknown))
    } else {
        None
    }
}

/// The outcome when `name` is a wrapper (or a command that runs a script); `None` otherwise.
pub(super) fn wrappers(
    c: &Classifier,
    name: &str,
    words: &[String],
    stdin: Option<&str>,
    d: usize,
) -> Option<Outcome> {
    if let Some((_, opts, skip)) = SIMPLE.iter().find(|(names, ..)| names.contains(&name)) {
        let i = skip_opts(words, 1, opts) + skip;
        return Some(wrapper(c, words, name, i, stdin, d));
    }
    Some(match name {
        "env" => {
            let start = skip_opts(words, 1, &["-u", "-C", "--unset", "--chdir", "-S"]);
            let mut i = start;
            while words
                .get(i)
                .is_some_and(|w| w.contains('=') && !w.starts_with('='))
            {
                i += 1;
            }
            let mut o = wrapper(c, words, name, i, stdin, d);
            // `env NAME=VALUE CMD` is CMD's environment, as a `NAME=VALUE CMD` prefix is.
            let scope = crate::env::Scope { c, depth: d };
            o.reasons
                .extend(scope.env_words(words.get(start..i).unwrap_or(&[])));
            Outcome::new(o.reasons)
        }
        "watch" => {
            // watch hands its words, joined, to `sh -c`.
            let i = skip_opts(words, 1, &["-n", "--interval", "-q"]);
            match words.get(i..).filter(|r| !r.is_empty()) {
                Some(rest) => nested(c, "watch", &rest.join(" "), d),
                None => Outcome::one("watch without a command", &words.join(" "), Level::Unknown),
            }
        }
        "eval" => match words.get(1..).filter(|r| !r.is_empty()) {
            // eval joins its words and runs them as a script.
            Some(rest) => nested(c, "eval", &rest.join(" "), d),
            None => Outcome::one("eval", "eval", Level::Read),
        },
        "su" | "runuser" => su(c, words, stdin, d),
        "trap" => trap(c, words, d),
        "strace" | "ltrace" => return strace(c, name, words, stdin, d),
        "xargs" => xargs(c, words, d),
        "bash" | "sh" | "zsh" | "dash" | "ksh" | "ash" => shell(c, words, stdin, d),
        "kubectl" | "oc" if kube_verb(words) == Some("exec") => {
            match words.iter().position(|w| w == "--") {
                Some(i) => wrapper(c, words, "kubectl exec", i + 1, stdin, d),
                None => Outcome::one("kubectl exec without --", &words.join(" "), Level::Unknown),
            }
        }
        "oc" if kube_verb(words) == Some("rsh") => oc_rsh(c, words, stdin, d),
        "kubectl" | "oc" if kube_verb(words) == Some("debug") => debug_pod(c, words, stdin, d),
        "knife" if positional(words, 1).as_deref() == Some("ssh") => knife_ssh(c, words, stdin, d),
        "docker" | "podman" | "docker-compose" | "nerdctl" => {
            return container_exec(c, words, stdin, d);
        }
        _ => return None,
    })
}

/// The verb of a kubectl/oc command: its first word that is neither an option nor the
/// value of a global option (`kubectl -n prod exec ...`).
fn kube_verb(words: &[String]) -> Option<&str> {
    let global = [
        "-n",
        "--namespace",
        "--context",
        "--kubeconfig",
        "--cluster",
        "--user",
        "-s",
        "--server",
        "--as",
        "--token",
    ];
    let i = skip_opts(words, 1, &global);
    words.get(i).map(String::as_str)
}

/// `knife ssh [opts] QUERY COMMAND...`: like ssh, the words after the query are joined
/// and run by a remote shell on every node the query finds.
fn knife_ssh(c: &Classifier, words: &[String], stdin: Option<&str>, d: usize) -> Outcome {
    let at = words.iter().position(|w| w == "ssh").unwrap_or(1);
    let opts = [
        "-a",
        "--attribute",
        "-C",
        "--concurrency",
        "-x",
        "--ssh-user",
        "-P",
        "--ssh-password",
        "-p",
        "--ssh-port",
        "-i",
        "--ssh-identity-file",
        "-G",
        "--ssh-gateway",
        "-E",
        "--environment",
        "-c",
        "--config",
    ];
    let query = skip_opts(words, at + 1, &opts);
    let cmd = skip_opts(words, query + 1, &opts);
    match words.get(cmd..).filter(|r| !r.is_empty()) {
        Some(rest) => nested_with_stdin(c, "knife ssh remote command", &rest.join(" "), stdin, d),
        None => Outcome::one(
            "knife ssh without a command",
            &words.join(" "),
            Level::Unknown,
        ),
    }
}

/// `kubectl debug` / `oc debug` start a debug pod or container (a write), then run what
/// follows `--` in it; without `--` they open an interactive shell.
fn debug_pod(c: &Classifier, words: &[String], stdin: Option<&str>, d: usize) -> Outcome {
    match words.iter().position(|w| w == "--") {
        Some(i) => {
            let name = format!("{} debug", basename(&words[0]));
            let mut o = wrapper(c, words, &name, i + 1, stdin, d);
            o.reasons
                .push(reason(&name, &words.join(" "), Level::Write));
            Outcome::new(o.reasons)
        }
        None => Outcome::one(
            &format!("{} debug without --", basename(&words[0])),
            &words.join(" "),
            Level::Unknown,
        ),
    }
}

/// `oc rsh [opts] POD [CMD...]` runs CMD in the pod; without one, an interactive shell.
fn oc_rsh(c: &Classifier, words: &[String], stdin: Option<&str>, d: usize) -> Outcome {
    let at = words.iter().position(|w| w == "rsh").unwrap_or(1);
    let opts = &[
        "-c",
        "--container",
        "-n",
        "--namespace",
        "--shell",
        "--timeout",
        "--context",
        "--kubeconfig",
        "--as",
    ];
    let pod = skip_opts(words, at + 1, opts);
    if words.get(pod + 1).is_none() {
        return Outcome::one("oc rsh without a command", &words.join(" "), Level::Unknown);
    }
    // Options may also follow the pod; whatever is left after them is the command.
    let cmd = skip_opts(words, pod + 1, opts);
    wrapper(c, words, "oc rsh", cmd, stdin, d)
}

/// `trap 'HANDLER' SIG...`: the handler is a script the shell runs when the signal comes.
fn trap(c: &Classifier, words: &[String], d: usize) -> Outcome {
    match words
        .get(1)
        .filter(|a| !a.starts_with('-') && !a.is_empty())
    {
        Some(handler) => nested(c, "trap", handler, d),
        None => Outcome::one("trap", &words.join(" "), Level::Read),
    }
}

/// `strace [opts] CMD` runs CMD; without a command it attaches to a process (`-p PID`)
/// and the table decides.
fn strace(
    c: &Classifier,
    name: &str,
    words: &[String],
    stdin: Option<&str>,
    d: usize,
) -> Option<Outcome> {
    let opts = [
        "-o", "-p", "-e", "-s", "-u", "-E", "-P", "-I", "-b", "-a", "-O", "-S", "-X", "-U",
    ];
    let i = skip_opts(words, 1, &opts);
    words.get(i)?;
    let o = wrapper(c, words, name, i, stdin, d);
    Some(super::options::with_side_effect_options(c, words, o))
}

/// `su [-] [USER] -c CMD`: the command string goes to the user's shell.
fn su(c: &Classifier, words: &[String], stdin: Option<&str>, d: usize) -> Outcome {
    let at = words
        .iter()
        .position(|w| matches!(w.as_str(), "-c" | "--command" | "--session-command"));
    let inline = words.iter().find_map(|w| w.strip_prefix("--command="));
    match (at.and_then(|i| words.get(i + 1)), inline) {
        (Some(script), _) => nested(c, "su -c", script, d),
        (None, Some(script)) => nested(c, "su -c", script, d),
        (None, None) => match stdin {
            Some(s) => nested(c, "su <<heredoc", s, d),
            None => Outcome::one("interactive su", &words.join(" "), Level::Unknown),
        },
    }
}

/// xargs runs its command with input words appended (or put in place of `-I`'s string).
/// The input is classified as an outside value: a second parser reading it is `unknown`.
fn xargs(c: &Classifier, words: &[String], d: usize) -> Outcome {
    let mut replace: Option<String> = None;
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if w == "--" {
            i += 1;
            break;
        }
        if !w.starts_with('-') || w.len() < 2 {
            break;
        }
        if let Some(r) = w
            .strip_prefix("-I")
            .or_else(|| w.strip_prefix("--replace="))
        {
            replace = Some(if r.is_empty() {
                i += 1;
                words.get(i).cloned().unwrap_or_default()
            } else {
                r.to_string()
            });
        } else if w == "-i" || w == "--replace" {
            replace = Some("{}".to_string());
        } else if let Some(r) = w.strip_prefix("-i") {
            replace = Some(r.to_string());
        } else if XARGS_OPTS.contains(&w.as_str()) {
            i += 1;
        }
        i += 1;
    }
    let Some(rest) = words.get(i..).filter(|r| !r.is_empty()) else {
        // xargs with no command runs echo.
        return Outcome::one("xargs (echo)", &words.join(" "), Level::Read);
    };
    let inner: Vec<String> = match replace.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => rest.iter().map(|w| w.replace(r, XARGS_INPUT)).collect(),
        None => rest
            .iter()
            .cloned()
            .chain([XARGS_INPUT.to_string()])
            .collect(),
    };
    let shown = replace.unwrap_or_default();
    let mut reasons = vec![reason("wrapper:xargs", "xargs", Level::Read)];
    for mut r in classify_words(c, &inner, None, d).reasons {
        r.matched = r
            .matched
            .replace(XARGS_INPUT, &shown)
            .trim_end()
            .to_string();
        reasons.push(r);
    }
    Outcome::new(reasons)
}

/// A wrapper runs `words[inner..]`; it adds a read-level note and never lowers the inner level.
pub(super) fn wrapper(
    c: &Classifier,
    words: &[String],
    name: &str,
    inner: usize,
    stdin: Option<&str>,
    depth: usize,
) -> Outcome {
    let rest = words.get(inner..).unwrap_or(&[]);
    if rest.is_empty() {
        return Outcome::one(
            &format!("wrapper:{name} without a command"),
            &words.join(" "),
            Level::Unknown,
        );
    }
    let mut reasons = vec![reason(&format!("wrapper:{name}"), name, Level::Read)];
    reasons.extend(classify_words(c, rest, stdin, depth).reasons);
    Outcome::new(reasons)
}

/// The reasons of a nested script, each pointing at its inner command's text.
pub(super) fn nested(c: &Classifier, rule: &str, script: &str, depth: usize) -> Outcome {
    nested_with_stdin(c, rule, script, None, depth)
}

/// Like [`nested`], but the outer command's heredoc feeds the nested script's stdin: it is
/// re-attached as a heredoc so `ssh db 'psql' <<SQL ... SQL` still sees the SQL.
pub(super) fn nested_with_stdin(
    c: &Classifier,
    rule: &str,
    script: &str,
    stdin: Option<&str>,
    depth: usize,
) -> Outcome {
    let mut reasons = vec![reason(rule, script, Level::Read)];
    reasons.extend(value_reread(script));
    let full = match stdin {
        Some(input) if !script.contains('\n') => {
            format!("{script} <<'__SITREP_STDIN__'\n{input}\n__SITREP_STDIN__\n")
        }
        _ => script.to_string(),
    };
    for cmd in classify_script(c, &full, depth) {
        reasons.extend(cmd.reasons);
    }
    Outcome::new(reasons)
}

/// A shell: its `-c` script, script file or stdin; with `-a` (allexport) or `-k`
/// (keyword) its script's assignments all reach child environments, unchecked here.
fn shell(c: &Classifier, words: &[String], stdin: Option<&str>, depth: usize) -> Outcome {
    let mut o = shell_script(c, words, stdin, depth);
    let mut i = 1;
    while let Some(w) = words.get(i) {
        let takes_value = matches!(w.as_str(), "-o" | "+o" | "-O" | "+O")
            || (w.starts_with('-') && !w.starts_with("--") && w.ends_with('o'));
        let exports = if takes_value {
            matches!(
                words.get(i + 1).map(String::as_str),
                Some("allexport" | "keyword")
            )
        } else {
            false
        } || (w.starts_with('-') && !w.starts_with("--") && w.contains(['a', 'k']));
        if exports {
            o.reasons
                .push(reason(crate::env::RULE, &words.join(" "), Level::Unknown));
            o.level = o.level.max(Level::Unknown);
            break;
        }
        if !w.starts_with(['-', '+']) {
            break;
        }
        i += if takes_value { 2 } else { 1 };
    }
    o
}

fn shell_script(c: &Classifier, words: &[String], stdin: Option<&str>, depth: usize) -> Outcome {
    let name = basename(words.first().map_or("", String::as_str)).to_string();
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if w.starts_with('-') && !w.starts_with("--") && w.contains('c') {
            return match words.get(i + 1) {
                Some(script) => nested_with_stdin(c, &format!("{name} -c"), script, stdin, depth),
                None => Outcome::one(
                    &format!("{name} -c without a script"),
                    &words.join(" "),
                    Level::Unknown,
                ),
            };
        }
        if w.starts_with('-') {
            // `-o NAME`, also at the end of a cluster (`-euo pipefail`), and `-O NAME`.
            let takes_value = matches!(w.as_str(), "+o" | "-O" | "+O")
                || (!w.starts_with("--") && w.ends_with('o'));
            i += if takes_value { 2 } else { 1 };
            continue;
        }
        // `bash script.sh`: the script's text is not in front of us.
        let mut reasons = vec![reason(
            &format!("{name} runs a script file"),
            &words.join(" "),
            Level::Unknown,
        )];
        reasons.extend(value_reread(w));
        return Outcome::new(reasons);
    }
    match stdin {
        Some(s) => nested(c, &format!("{name} <<heredoc"), s, depth),
        None => Outcome::one(
            &format!("interactive {name}"),
            &words.join(" "),
            Level::Unknown,
        ),
    }
}

pub(super) fn ssh(c: &Classifier, words: &[String], stdin: Option<&str>, depth: usize) -> Outcome {
    let with_value = [
        "-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p",
        "-Q", "-R", "-S", "-W", "-w", "-B", "-P",
    ];
    let host = skip_opts(words, 1, &with_value);
    let rest = words.get(host + 1..).unwrap_or(&[]);
    let mut o = if rest.is_empty() {
        match stdin {
            Some(s) => nested(c, "ssh <<heredoc", s, depth),
            None => Outcome::one("interactive ssh", &words.join(" "), Level::Unknown),
        }
    } else {
        // ssh joins the remaining words with spaces and hands them to the remote shell.
        nested_with_stdin(c, "ssh remote command", &rest.join(" "), stdin, depth)
    };
    // `-o KEY=VALUE` is a config line: ProxyCommand and friends go to a local shell.
    let opts = words.get(1..host.min(words.len())).unwrap_or(&[]);
    for (k, w) in opts.iter().enumerate() {
        let is_config =
            w.starts_with("-o") || (k > 0 && opts.get(k - 1).is_some_and(|p| p == "-o"));
        if is_config && let Some(r) = value_reread(w) {
            o.reasons.push(r);
            o.level = o.level.max(Level::Unknown);
        }
    }
    o
}

fn container_exec(
    c: &Classifier,
    words: &[String],
    stdin: Option<&str>,
    depth: usize,
) -> Option<Outcome> {
    let opts = [
        "-e",
        "--env",
        "--env-file",
        "-u",
        "--user",
        "-w",
        "--workdir",
        "--detach-keys",
        "--index",
    ];
    let mut i = 1;
    if basename(words.first()?) != "docker-compose" && words.get(1).is_some_and(|w| w == "compose")
    {
        // `docker compose [-f file] [-p project] exec`.
        i = skip_opts(
            words,
            2,
            &[
                "-f",
                "--file",
                "-p",
                "--project-name",
                "--env-file",
                "--profile",
            ],
        );
    } else if basename(words.first()?) == "docker-compose" {
        i = skip_opts(
            words,
            1,
            &[
                "-f",
                "--file",
                "-p",
                "--project-name",
                "--env-file",
                "--profile",
            ],
        );
    }
    if words.get(i)? != "exec" {
        return None;
    }
    let target = skip_opts(words, i + 1, &opts);
    Some(wrapper(c, words, "exec", target + 1, stdin, depth))
}

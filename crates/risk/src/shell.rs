//! Parses shell text with tree-sitter-bash and walks every command, redirection, heredoc and
//! substitution; unparsable regions are `unknown` at least.

use std::ops::Range;

use tree_sitter::{Node, Parser};

use crate::tools::{self, Outcome};
use crate::{Classifier, CommandRisk, Level, Reason, VALUE_MARKER};

/// Deeper nesting (`bash -c "bash -c ..."`, `$($($(...)))`) is reported `unknown` rather than
/// followed, so adversarial input cannot exhaust the stack.
const MAX_DEPTH: usize = 12;
const MAX_TREE_DEPTH: usize = 256;

/// Classifies every command in `script`; spans are byte offsets into `script`.
pub fn classify_script(c: &Classifier, script: &str, depth: usize) -> Vec<CommandRisk> {
    if script.trim().is_empty() {
        return Vec::new();
    }
    let whole = |why: &str| {
        vec![CommandRisk {
            text: script.to_string(),
            span: 0..script.len(),
            level: Level::Unknown,
            reasons: vec![Reason {
                rule: why.to_string(),
                matched: script.to_string(),
                level: Level::Unknown,
            }],
        }]
    };
    if depth > MAX_DEPTH {
        return whole("nesting too deep");
    }
    let masked = mask_placeholders(script);
    if let Some(out) = crate::fast::classify(c, script, &masked, depth) {
        return out;
    }
    classify_tree_sitter(c, script, &masked, depth)
}

/// The full path: tree-sitter-bash parses `masked` (the script with placeholders masked)
/// and the walker classifies every command node; spans and text come from `script`.
pub fn classify_tree_sitter(
    c: &Classifier,
    script: &str,
    masked: &str,
    depth: usize,
) -> Vec<CommandRisk> {
    thread_local! {
        // One parser per thread: creating one and loading the language costs more than
        // parsing a typical step.
        static PARSER: std::cell::RefCell<Option<Parser>> = const { std::cell::RefCell::new(None) };
    }
    let whole = |why: &str| {
        vec![CommandRisk {
            text: script.to_string(),
            span: 0..script.len(),
            level: Level::Unknown,
            reasons: vec![Reason {
                rule: why.to_string(),
                matched: script.to_string(),
                level: Level::Unknown,
            }],
        }]
    };
    let parsed = PARSER.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        if slot.is_none() {
            let mut p = Parser::new();
            p.set_language(&tree_sitter_bash::LANGUAGE.into()).ok()?;
            *slot = Some(p);
        }
        let p = slot.as_mut()?;
        p.reset();
        Some(p.parse(masked, None))
    });
    let tree = match parsed {
        Some(Some(tree)) => tree,
        Some(None) => return whole("parse failed"),
        // The language did not load (or, impossibly, the parser is busy): a fresh one.
        None => {
            let mut parser = Parser::new();
            if parser
                .set_language(&tree_sitter_bash::LANGUAGE.into())
                .is_err()
            {
                return whole("parser unavailable");
            }
            let Some(tree) = parser.parse(masked, None) else {
                return whole("parse failed");
            };
            tree
        }
    };
    let mut w = Walker {
        c,
        src: script,
        depth,
        out: Vec::new(),
        piped: Vec::new(),
    };
    w.walk(tree.root_node(), 0);
    w.out.sort_by_key(|r| (r.span.start, r.span.end));
    w.out
}

/// Replaces `<pod-name>`-style placeholders with same-length plain words (bash would read a
/// bare `<x>` as a redirection) and non-ASCII bytes with `X`; equal length keeps byte spans
/// valid.
pub fn mask_placeholders(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        let prev_ok = i == 0
            || matches!(b.get(i - 1), Some(c) if !(c.is_ascii_digit() || matches!(c, b'<' | b'>' | b'&')));
        let starts = b.get(i) == Some(&b'<')
            && prev_ok
            && matches!(b.get(i + 1), Some(c) if c.is_ascii_alphabetic());
        if starts {
            let mut j = i + 1;
            while j < b.len()
                && j - i < 80
                && matches!(b.get(j), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':' | b'/' | b'@'))
            {
                j += 1;
            }
            if b.get(j) == Some(&b'>') {
                for o in out.iter_mut().take(j + 1).skip(i) {
                    *o = b'X';
                }
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    // tree-sitter-bash's external scanner calls C `isdigit`/`isalpha` on the lookahead code
    // point, which is undefined (and crashes glibc) above 255. Bash reads non-ASCII bytes
    // as ordinary word characters, so an ASCII letter per byte parses the same and keeps
    // every byte offset; the walker slices the original text, never this copy.
    for o in &mut out {
        if !o.is_ascii() {
            *o = b'X';
        }
    }
    // Every byte is ASCII now, so this cannot fail; the fallback is unreachable.
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

struct Walker<'a> {
    c: &'a Classifier,
    src: &'a str,
    depth: usize,
    out: Vec<CommandRisk>,
    /// What earlier stages of a pipeline hand a command, by the command node's id.
    piped: Vec<(usize, Piped)>,
}

/// A pipeline stage's view of the stages before it.
struct Piped {
    /// The previous stage is `echo`/`printf` of literal text: that text is our stdin.
    literal: Option<String>,
    /// The earlier stages' text, when it holds [`VALUE_MARKER`].
    marked: Option<String>,
}

impl Walker<'_> {
    /// Widens a parser range to the original's char boundaries: the parser read the masked
    /// copy, where a multi-byte character is several ASCII bytes and a token may end inside it.
    fn snap(&self, r: Range<usize>) -> Range<usize> {
        let len = self.src.len();
        let mut start = r.start.min(len);
        let mut end = r.end.clamp(start, len);
        while !self.src.is_char_boundary(start) {
            start -= 1;
        }
        while !self.src.is_char_boundary(end) {
            end += 1;
        }
        start..end
    }

    fn scope(&self) -> crate::env::Scope<'_> {
        crate::env::Scope {
            c: self.c,
            depth: self.depth,
        }
    }

    fn text(&self, r: Range<usize>) -> &str {
        let r = self.snap(r);
        self.src.get(r).unwrap_or("")
    }

    fn walk(&mut self, node: Node<'_>, tree_depth: usize) {
        if tree_depth > MAX_TREE_DEPTH {
            self.push_unknown(node.byte_range(), "nesting too deep");
            return;
        }
        if node.is_error() || node.is_missing() {
            self.parse_error(node);
        }
        match node.kind() {
            "command" => self.command(node),
            "pipeline" => self.pipeline(node),
            "declaration_command" => self.declaration(node),
            // `for PATH in /tmp; do ls; done` assigns the loop variable.
            "for_statement" => {
                if let Some(v) = node.child_by_field_name("variable") {
                    self.plain_assignment(v);
                }
            }
            "variable_assignment"
                if !node
                    .parent()
                    .is_some_and(|p| matches!(p.kind(), "command" | "declaration_command")) =>
            {
                self.plain_assignment(node);
            }
            "file_redirect" => {
                let owned = node
                    .parent()
                    .is_some_and(|p| p.kind() == "command" || redirected_command(p).is_some());
                if !owned && let Some(r) = self.redirect(node) {
                    self.push(node.byte_range(), vec![r]);
                }
            }
            _ => {}
        }
        let mut cursor = node.walk();
        for child in node.children(&mut cursor) {
            self.walk(child, tree_depth + 1);
        }
    }

    /// Records, for each stage after the first, the literal text piped into it and whether
    /// a value marker flows into it.
    fn pipeline(&mut self, node: Node<'_>) {
        let mut cursor = node.walk();
        let stages: Vec<Node<'_>> = node
            .named_children(&mut cursor)
            .filter(|n| n.kind() != "comment")
            .collect();
        for (k, pair) in stages.windows(2).enumerate() {
            let (Some(prev), Some(stage)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            let target = match stage.kind() {
                "command" => stage.id(),
                _ => match redirected_command(*stage) {
                    Some(id) => id,
                    None => continue,
                },
            };
            let literal = (prev.kind() == "command")
                .then(|| piped_literal(&self.plain_words(*prev)))
                .flatten();
            let upstream = stages.get(..=k).unwrap_or(&[]);
            let text: Vec<&str> = upstream.iter().map(|n| self.text(n.byte_range())).collect();
            let marked = text
                .iter()
                .any(|t| t.contains(VALUE_MARKER))
                .then(|| text.join(" | "));
            self.piped.push((target, Piped { literal, marked }));
        }
    }

    /// A command node's words as written, without assignments and redirections.
    fn plain_words(&self, node: Node<'_>) -> Vec<&str> {
        let mut cursor = node.walk();
        node.named_children(&mut cursor)
            .filter(|n| {
                !matches!(
                    n.kind(),
                    "variable_assignment"
                        | "comment"
                        | "file_redirect"
                        | "herestring_redirect"
                        | "heredoc_redirect"
                )
            })
            .map(|n| self.text(n.byte_range()))
            .collect()
    }

    fn push(&mut self, span: Range<usize>, reasons: Vec<Reason>) {
        let span = self.snap(span);
        let level = reasons.iter().map(|r| r.level).max().unwrap_or(Level::Read);
        self.out.push(CommandRisk {
            text: self.text(span.clone()).to_string(),
            span,
            level,
            reasons,
        });
    }

    fn push_unknown(&mut self, span: Range<usize>, why: &str) {
        let matched = self.text(span.clone()).to_string();
        self.push(
            span,
            vec![Reason {
                rule: why.to_string(),
                matched,
                level: Level::Unknown,
            }],
        );
    }

    /// A region that does not parse is `unknown`, and raised further if its words look like a
    /// known command (the parser may have failed to see `rm -rf /` as a command at all).
    fn parse_error(&mut self, node: Node<'_>) {
        let span = node.byte_range();
        let text = self.text(span.clone()).to_string();
        let mut reasons = vec![Reason {
            rule: "parse-error".to_string(),
            matched: text.clone(),
            level: Level::Unknown,
        }];
        for piece in text.split(['\n', ';', '|', '&', '(', ')', '`', '{', '}']) {
            let words: Vec<String> = piece
                .split_whitespace()
                .map(unquote)
                .filter(|w| !w.is_empty())
                .collect();
            if words.is_empty() {
                continue;
            }
            let o = tools::classify_words(self.c, &words, None, self.depth);
            if o.level > Level::Unknown {
                reasons.extend(o.reasons);
            }
        }
        self.push(span, reasons);
    }

    fn command(&mut self, node: Node<'_>) {
        let parent = node
            .parent()
            .filter(|p| redirected_command(*p) == Some(node.id()));
        let span = parent.map_or(node.byte_range(), |p| p.byte_range());
        let mut words = Vec::new();
        let mut assigns = Vec::new();
        let mut redirects = Vec::new();
        let mut stdin: Option<String> = None;
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            match child.kind() {
                "variable_assignment" => assigns.push(self.text(child.byte_range())),
                "comment" => {}
                "file_redirect" => redirects.push(child),
                "herestring_redirect" | "heredoc_redirect" => {
                    stdin = Some(self.stdin_text(child));
                }
                _ => words.push(unquote(self.text(child.byte_range()))),
            }
        }
        if let Some(p) = parent {
            let mut cursor = p.walk();
            for child in p.children_by_field_name("redirect", &mut cursor) {
                match child.kind() {
                    "file_redirect" => redirects.push(child),
                    "herestring_redirect" | "heredoc_redirect" => {
                        stdin = Some(self.stdin_text(child));
                    }
                    _ => {}
                }
            }
        }
        let mut reasons = self.scope().prefixes(&assigns, &words);
        reasons.extend(self.classify_stage(node, &words, stdin));
        for r in redirects {
            if let Some(reason) = self.redirect(r) {
                reasons.push(reason);
            }
        }
        if reasons.is_empty() && !words.is_empty() {
            // classify_words always explains itself; this keeps the invariant if it did not.
            reasons.push(Reason {
                rule: "no rule".to_string(),
                matched: words.join(" "),
                level: Level::Unknown,
            });
        }
        if !reasons.is_empty() {
            self.push(span, reasons);
        }
    }

    /// An assignment with no command (`NS=prod`, a loop variable): reported only when the
    /// shell acts on the name (see `env`).
    fn plain_assignment(&mut self, node: Node<'_>) {
        let mut reasons = Vec::new();
        self.scope()
            .plain(self.text(node.byte_range()), &mut reasons);
        if !reasons.is_empty() {
            self.push(node.byte_range(), reasons);
        }
    }

    /// `export`, `declare`, `local`, `typeset`, `readonly`: their assignments, checked as
    /// exports when they export (see `env`). Reported only when something is raised.
    fn declaration(&mut self, node: Node<'_>) {
        let keyword = node.child(0).map_or("", |k| self.text(k.byte_range()));
        let mut opts = Vec::new();
        let mut items = Vec::new();
        let mut odd = Vec::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            let text = self.text(child.byte_range());
            match child.kind() {
                "variable_assignment" | "variable_name" => items.push(text),
                "word" if text.starts_with(['-', '+']) => opts.push(text),
                "comment" => {}
                // `declare "$x"`, `export "A=$b"`: a name or value we cannot read.
                _ => odd.push(text),
            }
        }
        let mut reasons = self.scope().declaration(keyword, &opts, &items);
        reasons.extend(odd.into_iter().map(|t| Reason {
            rule: crate::env::RULE.to_string(),
            matched: t.to_string(),
            level: Level::Unknown,
        }));
        if !reasons.is_empty() {
            self.push(node.byte_range(), reasons);
        }
    }

    /// Classifies a command's words with its stdin: its own heredoc, else literal text piped
    /// in from `echo`/`printf`.
    fn classify_stage(
        &mut self,
        node: Node<'_>,
        words: &[String],
        stdin: Option<String>,
    ) -> Vec<Reason> {
        let piped = self
            .piped
            .iter()
            .position(|(id, _)| *id == node.id())
            .map(|i| self.piped.swap_remove(i).1);
        let stdin = stdin.or_else(|| piped.as_ref().and_then(|p| p.literal.clone()));
        let Outcome { mut reasons, .. } =
            tools::classify_words(self.c, words, stdin.as_deref(), self.depth);
        if let Some(upstream) = piped.and_then(|p| p.marked)
            && reasons.iter().any(|r| r.rule.contains("xargs"))
        {
            // xargs splits its input into words (quotes, blanks): a value can become
            // several arguments or options of the command it runs.
            reasons.extend(tools::value_reread(&upstream));
        }
        reasons
    }

    fn stdin_text(&self, redirect: Node<'_>) -> String {
        let mut body = String::new();
        let mut cursor = redirect.walk();
        for child in redirect.named_children(&mut cursor) {
            match child.kind() {
                "heredoc_body" => body.push_str(self.text(child.byte_range())),
                "heredoc_start" | "heredoc_end" | "pipeline" | "command" | "list" => {}
                _ if redirect.kind() == "herestring_redirect" => {
                    body.push_str(&unquote(self.text(child.byte_range())));
                }
                _ => {}
            }
        }
        body
    }

    /// `> file` / `>> file` / `&> file` write; `/dev/null` and fd duplications do not.
    fn redirect(&self, node: Node<'_>) -> Option<Reason> {
        let text = self.text(node.byte_range());
        let dest = node
            .child_by_field_name("destination")
            .map(|d| unquote(self.text(d.byte_range())))
            .unwrap_or_default();
        redirect_reason(text, &dest)
    }
}

/// The reason a redirection `text` (fd, operator, destination) to the unquoted `dest` gives:
/// `> file` / `>> file` / `&> file` write; `/dev/null`, fd duplications and input do not.
pub fn redirect_reason(text: &str, dest: &str) -> Option<Reason> {
    let op_start = text.trim_start_matches(|c: char| c.is_ascii_digit() || c == '{');
    if op_start.starts_with('<') && !op_start.starts_with("<>") {
        return None;
    }
    let harmless = matches!(dest, "/dev/null" | "/dev/stdout" | "/dev/stderr" | "-")
        || ((op_start.starts_with(">&") || op_start.starts_with("<&"))
            && dest.chars().all(|c| c.is_ascii_digit() || c == '-'));
    if harmless {
        return None;
    }
    Some(Reason {
        rule: "redirect".to_string(),
        matched: text.to_string(),
        level: Level::Write,
    })
}

/// If `node` is a `redirected_statement` whose body is a plain command, that command's id.
fn redirected_command(node: Node<'_>) -> Option<usize> {
    if node.kind() != "redirected_statement" {
        return None;
    }
    let body = node.child_by_field_name("body")?;
    (body.kind() == "command").then(|| body.id())
}

/// Removes shell quoting from one word: quotes and backslash escapes (expansions stay as text).
pub fn unquote(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut chars = w.chars();
    let mut quote: Option<char> = None;
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), _) if ch == q => quote = None,
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            // Inside double quotes a backslash only escapes $ ` " \ and newline.
            (Some('"'), '\\') => match chars.clone().next() {
                Some(n @ ('$' | '`' | '"' | '\\' | '\n')) => {
                    out.push(n);
                    chars.next();
                }
                _ => out.push('\\'),
            },
            _ => out.push(ch),
        }
    }
    out
}

/// The text `echo`/`printf` prints when it is certain, from the command's raw words: literal
/// words, no expansions, no unquoted globs, no escapes we would have to interpret (dash's
/// `echo` interprets `\`).
pub fn piped_literal(raw: &[&str]) -> Option<String> {
    if raw
        .iter()
        .any(|w| w.contains(['$', '`']) || unquoted_glob(w))
    {
        return None;
    }
    let words: Vec<String> = raw.iter().map(|w| unquote(w)).collect();
    let (name, args) = words.split_first()?;
    match name.as_str() {
        "echo" => {
            if args.iter().any(|w| w.contains('\\')) {
                return None;
            }
            let is_opt = |w: &String| {
                w.len() > 1
                    && w.strip_prefix('-')
                        .is_some_and(|o| o.chars().all(|c| "neE".contains(c)))
            };
            let start = args.iter().position(|w| !is_opt(w)).unwrap_or(args.len());
            Some(args.get(start..).unwrap_or(&[]).join(" "))
        }
        "printf" => {
            let (format, rest) = args.split_first()?;
            if matches!(format.as_str(), "%s\\n" | "%s") && !rest.iter().any(|w| w.contains('\\')) {
                return Some(rest.join("\n"));
            }
            let text = format
                .replace("\\n", "\n")
                .replace("\\t", "\t")
                .replace("%%", "\0");
            (!text.contains(['%', '\\'])).then(|| text.replace('\0', "%"))
        }
        _ => None,
    }
}

/// `*`, `?` or `[` outside quotes: bash would expand the word to file names.
fn unquoted_glob(w: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in w.chars() {
        match (quote, ch) {
            _ if escaped => escaped = false,
            (None, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(ch),
            (Some(q), _) if q == ch => quote = None,
            (None, '*' | '?' | '[') => return true,
            _ => {}
        }
    }
    false
}

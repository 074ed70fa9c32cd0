//! The docs cannot drift from the flags: every `garbled …` command line in a code block of
//! README.md and docs/CLI.md parses with the current command line (clap's `try_parse_from`).

use clap::Parser;
use garbled::cli::Cli;

/// The command lines of the code blocks of `text` (every line of a shell block, the prompted
/// lines of other blocks): the words from `garbled` on, with a prompt (`alice$`), environment
/// settings before it, and what follows `|`, `>`, `<`, `&&`, `;` or `#` left out. Returns (line
/// number, words).
fn command_lines(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut in_block = false;
    let mut shell = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_block = !in_block;
            shell = in_block && matches!(info.trim(), "" | "sh" | "bash" | "shell" | "console");
            continue;
        }
        if !in_block {
            // Inline code that is a whole command line (not a synopsis with `[…]`, `|` or `…`).
            for (k, span) in line.split('`').enumerate() {
                // (A command named alone, `garbled gen`, is a mention, not a command line.)
                if k % 2 == 1
                    && span.starts_with("garbled ")
                    && span.split_whitespace().count() >= 3
                    && !span.contains(['[', '|', '…', '<'])
                {
                    out.push((n + 1, split_words(span)));
                }
            }
            continue;
        }
        let words = split_words(trimmed);
        // Outside shell blocks (a `text` block of a session), only prompted lines are commands.
        let prompted = words.first().is_some_and(|w| w.ends_with('$'));
        if !shell && !prompted {
            continue;
        }
        let Some(at) = words.iter().position(|w| w == "garbled") else {
            continue;
        };
        let mut command = Vec::new();
        for w in &words[at..] {
            if ["|", ">", "<", "&&", ";", "2>", "2>&1", ">>"].contains(&w.as_str())
                || w.starts_with('#')
            {
                break;
            }
            command.push(w.clone());
        }
        out.push((n + 1, command));
    }
    out
}

/// Splits a shell line into words (single and double quotes group; no expansion).
fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, c) => word.push(c),
        }
    }
    if started || !word.is_empty() {
        words.push(word);
    }
    words
}

#[test]
fn every_command_line_in_the_readme_and_the_cli_reference_parses() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in ["README.md", "docs/CLI.md"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        for (line, words) in command_lines(&text) {
            checked += 1;
            if let Err(e) = Cli::try_parse_from(&words) {
                // `--help` and `--version` are successes that clap reports as errors.
                if !matches!(
                    e.kind(),
                    clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
                ) {
                    failures.push(format!("{file}:{line}: {}\n  {e}", words.join(" ")));
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} command lines found");
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_extractor_finds_prompts_pipes_and_bad_flags() {
    let text = "```sh\nalice$ GARBLED_AES=aesni garbled bench --json | jq .\n$ garbled info x.txt # note\n```\n```rust\ngarbled nonsense\n```\n```text\ngarbled output line\n$ garbled eval a.txt --input 1\n```\n";
    let lines = command_lines(text);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2].1, ["garbled", "eval", "a.txt", "--input", "1"]);
    assert_eq!(lines[0].1, ["garbled", "bench", "--json"]);
    assert_eq!(lines[1].1, ["garbled", "info", "x.txt"]);
    assert!(Cli::try_parse_from(&lines[0].1).is_ok());
    assert!(Cli::try_parse_from(["garbled", "info", "x.txt", "--no-such-flag"]).is_err());
}

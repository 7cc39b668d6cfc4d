//! What a task runs: validating a request, the argv to spawn, how it is shown,
//! and whether its program exists before anything is spawned.
//!
//! A program that does not exist makes an `error` task with the reason, never
//! a `completed` one. For an argv the program is looked up on `PATH` (or
//! checked as a path). For a shell string `sh -c` itself always starts, so the
//! first word is checked the same way when it is a plain program name (not a
//! builtin, keyword, assignment, or anything with quoting or expansion in it).
//! When a later command in the string is missing, `sh` exits with 127: that is
//! the shell's own answer and is reported as `completed` with exit code 127.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{CommandSpec, TaskError};

/// The shell that runs shell-string commands.
pub(crate) const SH: &str = "/bin/sh";

/// The longest command string (or argv, joined) accepted.
pub(crate) const MAX_COMMAND_LEN: usize = 16 * 1024;

/// The longest task name accepted.
pub(crate) const MAX_NAME_LEN: usize = 200;

/// A command ready to spawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The argv handed to the PTY spawner.
    pub argv: Vec<String>,
    /// How the command is shown in the task record.
    pub display: String,
    /// Set when the program is known not to exist: the task goes to `error`
    /// with this reason and nothing is spawned.
    pub missing: Option<String>,
}

/// Validates a command request and works out what to spawn.
/// Relative program paths (`./run.sh`) are looked up in `workdir`, where the
/// task will run.
pub(crate) fn resolve(
    spec: &CommandSpec,
    path_var: Option<&OsStr>,
    workdir: &Path,
) -> Result<Resolved, TaskError> {
    match spec {
        CommandSpec::Shell(text) => {
            check_text("command", text)?;
            if text.trim().is_empty() {
                return Err(TaskError::Invalid("command must not be empty".into()));
            }
            let missing = shell_first_program(text)
                .filter(|word| find_program(word, path_var, workdir).is_none())
                .map(|word| format!("command not found: {word}"));
            Ok(Resolved {
                argv: vec![SH.to_owned(), "-c".to_owned(), text.clone()],
                display: text.clone(),
                missing,
            })
        }
        CommandSpec::Argv(argv) => {
            let Some(program) = argv.first() else {
                return Err(TaskError::Invalid("command must not be empty".into()));
            };
            if program.is_empty() {
                return Err(TaskError::Invalid("command[0] must name a program".into()));
            }
            for arg in argv {
                check_text("command", arg)?;
            }
            let display = argv.join(" ");
            if display.len() > MAX_COMMAND_LEN {
                return Err(TaskError::Invalid("command is too long".into()));
            }
            let missing = find_program(program, path_var, workdir)
                .is_none()
                .then(|| format!("command not found: {program}"));
            Ok(Resolved {
                argv: argv.clone(),
                display,
                missing,
            })
        }
    }
}

/// The login shell for a terminal task: the configured one, else `$SHELL`,
/// else `/bin/sh`; a shell that is not an executable file is skipped.
pub(crate) fn terminal_shell(configured: Option<&str>, env_shell: Option<&str>) -> String {
    [configured, env_shell]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty() && is_executable(Path::new(s)))
        .unwrap_or(SH)
        .to_owned()
}

/// Validates a display name (also used by rename).
pub(crate) fn check_name(name: &str) -> Result<(), TaskError> {
    if name.trim().is_empty() {
        return Err(TaskError::Invalid("name must not be empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(TaskError::Invalid(format!(
            "name must be at most {MAX_NAME_LEN} bytes"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(TaskError::Invalid(
            "name must not contain control characters".into(),
        ));
    }
    Ok(())
}

fn check_text(field: &str, text: &str) -> Result<(), TaskError> {
    if text.len() > MAX_COMMAND_LEN {
        return Err(TaskError::Invalid(format!("{field} is too long")));
    }
    if text.contains('\0') {
        return Err(TaskError::Invalid(format!(
            "{field} must not contain NUL bytes"
        )));
    }
    Ok(())
}

/// Words a POSIX shell runs itself: checking them on `PATH` would be wrong.
const SHELL_WORDS: &[&str] = &[
    "!", ".", ":", "[", "[[", "{", "}", "alias", "bg", "break", "case", "cd", "command",
    "continue", "do", "done", "elif", "else", "esac", "eval", "exec", "exit", "export", "false",
    "fc", "fg", "fi", "for", "function", "getopts", "hash", "if", "jobs", "kill", "local",
    "printf", "pwd", "read", "readonly", "return", "select", "set", "shift", "source", "test",
    "then", "time", "times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset",
    "until", "wait", "while", "echo",
];

/// The first word of a shell string when it is certainly a program name the
/// shell will look up (`None` when the shell could do anything else with it).
fn shell_first_program(text: &str) -> Option<&str> {
    let word = text.split_whitespace().next()?;
    let plain = word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+' | ','));
    (plain && !SHELL_WORDS.contains(&word)).then_some(word)
}

/// Finds a program as `execvp` would from `workdir`: a name with a `/` is
/// a path (relative to `workdir`), anything else is searched on `PATH`.
pub(crate) fn find_program(
    program: &str,
    path_var: Option<&OsStr>,
    workdir: &Path,
) -> Option<PathBuf> {
    if program.contains('/') {
        let p = workdir.join(program);
        return is_executable(&p).then_some(p);
    }
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> Option<std::ffi::OsString> {
        std::env::var_os("PATH")
    }

    #[test]
    fn a_missing_first_program_is_known_before_spawning() {
        let r = resolve(
            &CommandSpec::Shell("no-such-program-xyz --flag".into()),
            path().as_deref(),
            Path::new("/"),
        )
        .expect("valid request");
        assert_eq!(
            r.missing.as_deref(),
            Some("command not found: no-such-program-xyz")
        );
        assert_eq!(r.argv, ["/bin/sh", "-c", "no-such-program-xyz --flag"]);
    }

    #[test]
    fn builtins_expansions_and_found_programs_are_left_to_the_shell() {
        for text in [
            "read -p 'name? ' x; echo hi $x",
            "FOO=1 env",
            "$HOME/x",
            "sleep 1",
            "(cd /)",
        ] {
            let r = resolve(
                &CommandSpec::Shell(text.into()),
                path().as_deref(),
                Path::new("/"),
            )
            .expect("valid");
            assert_eq!(r.missing, None, "{text}");
        }
    }

    #[test]
    fn argv_programs_are_looked_up_on_path() {
        let ok = resolve(
            &CommandSpec::Argv(vec!["sleep".into(), "1".into()]),
            path().as_deref(),
            Path::new("/"),
        )
        .expect("valid");
        assert_eq!((ok.missing, ok.display.as_str()), (None, "sleep 1"));
        let missing = resolve(
            &CommandSpec::Argv(vec!["/no/such/bin".into()]),
            path().as_deref(),
            Path::new("/"),
        )
        .expect("valid");
        assert_eq!(
            missing.missing.as_deref(),
            Some("command not found: /no/such/bin")
        );
    }

    #[test]
    fn relative_programs_are_found_from_the_workdir() {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").expect("write");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for spec in [
            CommandSpec::Shell("./run.sh".into()),
            CommandSpec::Argv(vec!["./run.sh".into()]),
        ] {
            let found = resolve(&spec, None, dir.path()).expect("valid");
            assert_eq!(found.missing, None, "{spec:?}");
            let elsewhere = resolve(&spec, None, Path::new("/")).expect("valid");
            assert!(elsewhere.missing.is_some(), "{spec:?}");
        }
    }

    #[test]
    fn malformed_requests_are_invalid() {
        for spec in [
            CommandSpec::Shell("   ".into()),
            CommandSpec::Argv(vec![]),
            CommandSpec::Argv(vec![String::new()]),
            CommandSpec::Shell("a\0b".into()),
            CommandSpec::Shell("x".repeat(MAX_COMMAND_LEN + 1)),
        ] {
            assert!(
                matches!(
                    resolve(&spec, None, Path::new("/")),
                    Err(TaskError::Invalid(_))
                ),
                "{spec:?}"
            );
        }
        assert!(check_name("build").is_ok());
        assert!(check_name(" ").is_err());
        assert!(check_name("a\nb").is_err());
    }

    #[test]
    fn terminal_shell_falls_back_to_sh() {
        assert_eq!(terminal_shell(None, None), "/bin/sh");
        assert_eq!(
            terminal_shell(Some("/no/shell"), Some("/bin/sh")),
            "/bin/sh"
        );
        assert_eq!(terminal_shell(None, Some("/no/shell")), "/bin/sh");
    }
}

//! The exit codes of every command.

use std::process::ExitCode;

/// How a command ended, as its exit code says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, nothing wrong.
    Ok,
    /// 1: problems in the input: the flows have errors (or warnings with
    /// `--deny-warnings`), a test failed, trace lines were rejected, a
    /// file is not formatted.
    Problems,
    /// 2: usage, IO or internal error; the command could not do its job.
    Failure,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Problems => 1,
            Exit::Failure => 2,
        }
    }

    /// `Problems` when `problems` holds, else `Ok`.
    pub fn problems_if(problems: bool) -> Exit {
        if problems {
            Exit::Problems
        } else {
            Exit::Ok
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

//! The server loop: documents in, diagnostics and answers out.

use std::cell::RefCell;
use std::collections::HashSet;
use std::error::Error;
use std::rc::Rc;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidChangeWorkspaceFolders, DidCloseTextDocument,
    DidOpenTextDocument, DidSaveTextDocument, Exit, Initialized, Notification as _,
    PublishDiagnostics, ShowMessage,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    Request as _, Shutdown,
};
use lsp_types::{
    CompletionOptions, CompletionParams, CompletionResponse, DocumentFormattingParams,
    DocumentSymbolParams, DocumentSymbolResponse, GotoDefinitionParams, GotoDefinitionResponse,
    Hover, HoverContents, HoverParams, HoverProviderCapability, InitializeParams, Location,
    MarkupContent, MarkupKind, OneOf, PublishDiagnosticsParams, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextEdit, Uri,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::analysis::{self, project_key, Analysis, Buffers};
use crate::{completion, convert, fixes, formatting, navigate, symbols};

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// `workspace/executeCommand` `nudge.graph`, with the arguments `[URI]` or
/// `[URI, WORKFLOW]`: the Mermaid graph of the workflows of the project
/// the document belongs to (see `nudge graph`), as a string.
pub const GRAPH_COMMAND: &str = "nudge.graph";

/// Runs the server on stdin and stdout until the client says `exit`.
pub fn run_stdio() -> Result<()> {
    let (connection, io_threads) =
        crate::transport::connect(std::io::BufReader::new(std::io::stdin()), std::io::stdout())?;
    run(&connection)?;
    drop(connection);
    io_threads.join()?;
    Ok(())
}

/// Runs the server on a connection until the client says `exit`.
pub fn run(connection: &Connection) -> Result<()> {
    let capabilities = ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_owned(), " ".to_owned(), "[".to_owned()]),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        execute_command_provider: Some(lsp_types::ExecuteCommandOptions {
            commands: vec![GRAPH_COMMAND.to_owned()],
            ..lsp_types::ExecuteCommandOptions::default()
        }),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Options(
            lsp_types::CodeActionOptions {
                code_action_kinds: Some(vec![lsp_types::CodeActionKind::QUICKFIX]),
                ..lsp_types::CodeActionOptions::default()
            },
        )),
        ..ServerCapabilities::default()
    };
    let result = serde_json::json!({
        "capabilities": capabilities,
        "serverInfo": ServerInfo {
            name: "nudge".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        },
    });
    // Requests before `initialize` are answered with an error by
    // `initialize_start`. The parameters are not used: malformed ones do
    // not stop the server.
    let (id, params) = connection.initialize_start()?;
    let mut roots = Vec::new();
    let mut watch = false;
    match serde_json::from_value::<InitializeParams>(params) {
        Ok(p) => {
            roots = workspace_roots(&p);
            watch = p
                .capabilities
                .workspace
                .and_then(|w| w.did_change_watched_files)
                .and_then(|d| d.dynamic_registration)
                .unwrap_or(false);
        }
        Err(e) => eprintln!("nudge lsp: ignoring malformed `initialize` parameters: {e}"),
    }
    connection
        .sender
        .send(Response::new_ok(id, result).into())?;
    if watch {
        // Files changed outside the editor (a `git checkout`, a pull) are
        // checked again: ask the client to tell about every `.flow` file.
        let params = lsp_types::RegistrationParams {
            registrations: vec![lsp_types::Registration {
                id: "nudge-flow-files".to_owned(),
                method: DidChangeWatchedFiles::METHOD.to_owned(),
                register_options: Some(serde_json::json!({
                    "watchers": [{ "globPattern": "**/*.flow" }]
                })),
            }],
        };
        connection.sender.send(
            Request::new(
                RequestId::from("nudge-register-watchers".to_owned()),
                lsp_types::request::RegisterCapability::METHOD.to_owned(),
                params,
            )
            .into(),
        )?;
    }
    let mut server = Server {
        connection,
        buffers: Buffers::new(),
        versions: std::collections::HashMap::new(),
        published: HashSet::new(),
        cache: RefCell::new(None),
        parses: RefCell::new(analysis::ParseCache::default()),
        disk: RefCell::new(analysis::DiskCache::default()),
        told_checker_failed: false,
        dirty: Vec::new(),
        roots,
        deferred_since: None,
        workspace_pending: false,
    };
    let mut shutting_down = false;
    loop {
        // The workspace is checked once the editor has been quiet for a
        // moment after `initialized`: the documents it opens at start come
        // first, and their projects' checks serve the workspace's too.
        let message = if server.workspace_pending {
            match connection.receiver.recv_timeout(WORKSPACE_DELAY) {
                Ok(m) => m,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    server.workspace_pending = false;
                    for root in server.roots.clone() {
                        server.check_workspace(&root);
                    }
                    if !shutting_down {
                        server.publish_dirty()?;
                    }
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match connection.receiver.recv() {
                Ok(m) => m,
                Err(_) => break,
            }
        };
        match message {
            Message::Request(request) if shutting_down => server.respond(
                request.id,
                Err((
                    ErrorCode::InvalidRequest,
                    format!("`{}` after `shutdown`", request.method),
                )),
            )?,
            Message::Request(request) if request.method == Shutdown::METHOD => {
                shutting_down = true;
                server.respond(request.id, Ok(Value::Null))?;
            }
            Message::Request(request) => {
                // A bug in one handler costs that answer, not the server.
                let id = request.id.clone();
                let method = request.method.clone();
                let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    server.request(request)
                }));
                match handled {
                    Ok(sent) => sent?,
                    Err(_) => {
                        server.forget_analysis();
                        server.respond(
                            id,
                            Err((
                                ErrorCode::InternalError,
                                format!("`{method}` failed inside nudge; please report it"),
                            )),
                        )?;
                    }
                }
            }
            Message::Notification(n) if n.method == Exit::METHOD => return Ok(()),
            Message::Notification(_) if shutting_down => {}
            Message::Notification(n) => {
                // A bad notification is logged; the server keeps serving.
                let method = n.method.clone();
                let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    server.notification(n)
                }));
                match handled {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!("nudge lsp: cannot handle `{method}`: {e}"),
                    Err(_) => {
                        server.forget_analysis();
                        eprintln!("nudge lsp: `{method}` failed inside nudge; please report it");
                    }
                }
            }
            Message::Response(_) => {}
        }
        // Diagnostics go out once the messages that arrived together are
        // handled: a burst of edits (fast typing, a paste, a rename across
        // files) is checked once, not once per edit.
        if !shutting_down && connection.receiver.is_empty() {
            server.publish_dirty()?;
        }
    }
    Ok(())
}

struct Server<'a> {
    connection: &'a Connection,
    /// Open documents.
    buffers: Buffers,
    /// The version of each open document, as the editor numbers them.
    versions: std::collections::HashMap<String, i32>,
    /// Files that were sent diagnostics, so stale ones can be cleared.
    published: HashSet<String>,
    /// The last analysis, by project, until the next change.
    cache: RefCell<Option<(String, Rc<Analysis>)>>,
    /// Each file's parse, kept while its text stays the same.
    parses: RefCell<analysis::ParseCache>,
    /// Files read from disk, kept while they do not change.
    disk: RefCell<analysis::DiskCache>,
    /// The user was told that the type checker failed.
    told_checker_failed: bool,
    /// Files whose projects changed since diagnostics were last sent, one
    /// per project.
    dirty: Vec<Uri>,
    /// The workspace folders: every project in them is checked when the
    /// client is ready, so problems in files not open show up too.
    roots: Vec<std::path::PathBuf>,
    /// When the diagnostics of a check were first held back because newer
    /// messages were waiting (none: the last check's were sent).
    deferred_since: Option<std::time::Instant>,
    /// The workspace folders are to be checked once the client is quiet.
    workspace_pending: bool,
}

/// How long the client must be quiet after `initialized` before the
/// workspace is checked.
const WORKSPACE_DELAY: std::time::Duration = std::time::Duration::from_millis(200);

/// How long diagnostics may be held back for newer messages: someone who
/// types without a pause still sees them this often.
const MAX_HOLD: std::time::Duration = std::time::Duration::from_secs(1);

impl Server<'_> {
    fn notification(&mut self, n: Notification) -> Result<()> {
        // Any notification may change what is on disk or in the buffers.
        self.cache.replace(None);
        let uri = match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams = serde_json::from_value(n.params)?;
                self.versions
                    .insert(p.text_document.uri.to_string(), p.text_document.version);
                self.buffers
                    .insert(p.text_document.uri.to_string(), p.text_document.text);
                p.text_document.uri
            }
            DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams = serde_json::from_value(n.params)?;
                self.versions
                    .insert(p.text_document.uri.to_string(), p.text_document.version);
                // Full sync: the last change holds the whole text.
                if let Some(change) = p.content_changes.into_iter().last() {
                    self.buffers
                        .insert(p.text_document.uri.to_string(), change.text);
                }
                p.text_document.uri
            }
            DidSaveTextDocument::METHOD => {
                let p: lsp_types::DidSaveTextDocumentParams = serde_json::from_value(n.params)?;
                p.text_document.uri
            }
            DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams = serde_json::from_value(n.params)?;
                self.buffers.remove(p.text_document.uri.as_str());
                self.versions.remove(p.text_document.uri.as_str());
                p.text_document.uri
            }
            Initialized::METHOD => {
                self.workspace_pending = !self.roots.is_empty();
                return Ok(());
            }
            DidChangeWorkspaceFolders::METHOD => {
                let p: lsp_types::DidChangeWorkspaceFoldersParams =
                    serde_json::from_value(n.params)?;
                for gone in p.event.removed {
                    let Some(path) = crate::uri::to_path(&gone.uri) else {
                        continue;
                    };
                    self.roots.retain(|r| *r != path);
                    // Its files' diagnostics go away with it.
                    let stale: Vec<String> = self
                        .published
                        .iter()
                        .filter(|u| {
                            u.parse::<Uri>()
                                .ok()
                                .and_then(|u| crate::uri::to_path(&u))
                                .is_some_and(|f| f.starts_with(&path))
                        })
                        .cloned()
                        .collect();
                    for u in stale {
                        if let Ok(u) = u.parse::<Uri>() {
                            self.clear(&u)?;
                        }
                    }
                }
                for added in p.event.added {
                    if let Some(path) = crate::uri::to_path(&added.uri) {
                        self.check_workspace(&path);
                        self.roots.push(path);
                    }
                }
                return Ok(());
            }
            DidChangeWatchedFiles::METHOD => {
                let p: lsp_types::DidChangeWatchedFilesParams = serde_json::from_value(n.params)?;
                let mut done = HashSet::new();
                for change in p.changes {
                    // Read again whatever the editor says changed, even if
                    // its size and time look the same.
                    if let Some(path) = crate::uri::to_path(&change.uri) {
                        self.disk.borrow_mut().forget(&path);
                    }
                    if change.typ == lsp_types::FileChangeType::DELETED {
                        self.clear(&change.uri)?;
                        if let Some(path) = crate::uri::to_path(&change.uri) {
                            self.parses.borrow_mut().forget(&path.display().to_string());
                        }
                    }
                    if done.insert(project_key(&change.uri)) {
                        self.mark_dirty(change.uri);
                    }
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        self.mark_dirty(uri);
        Ok(())
    }

    /// Marks every project under `root` (each folder holding `.flow`
    /// files) to have its diagnostics sent.
    fn check_workspace(&mut self, root: &std::path::Path) {
        for folder in project_folders(root) {
            let first = nudge_syntax::project::flow_files_in(&folder)
                .ok()
                .and_then(|files| files.into_iter().next());
            if let Some(uri) = first.as_deref().and_then(crate::uri::from_path) {
                self.mark_dirty(uri);
            }
        }
    }

    /// Notes that `uri`'s project needs its diagnostics sent again.
    fn mark_dirty(&mut self, uri: Uri) {
        let key = project_key(&uri);
        match self.dirty.iter().position(|d| project_key(d) == key) {
            // The latest file of a project is the one its diagnostics are
            // always sent for (even when empty).
            Some(i) => self.dirty[i] = uri,
            None => self.dirty.push(uri),
        }
    }

    /// Sends the diagnostics of every project that changed.
    fn publish_dirty(&mut self) -> Result<()> {
        for uri in std::mem::take(&mut self.dirty) {
            let _ = self.analyze(&uri);
            // Messages that came in during the check (more typing, in a
            // large project) would make these diagnostics stale on
            // arrival: handle them and check again first, for a second at
            // most, so that someone who types without a pause still sees
            // diagnostics.
            if !self.connection.receiver.is_empty() {
                let since = *self
                    .deferred_since
                    .get_or_insert_with(std::time::Instant::now);
                if since.elapsed() < MAX_HOLD {
                    self.mark_dirty(uri);
                    continue;
                }
            }
            self.deferred_since = None;
            self.publish(&uri)?;
        }
        Ok(())
    }

    /// Sends an empty list of diagnostics for a file that had some.
    fn clear(&mut self, uri: &Uri) -> Result<()> {
        if self.published.remove(uri.as_str()) {
            self.send_diagnostics(uri.clone(), Vec::new())?;
        }
        Ok(())
    }

    fn send_diagnostics(&self, uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>) -> Result<()> {
        // The version of the text these diagnostics are of: an open
        // document's latest (each check reads the newest text, so a
        // publish is never of an older version than the one before it).
        let version = self.versions.get(uri.as_str()).copied();
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        self.connection
            .sender
            .send(Message::Notification(Notification::new(
                PublishDiagnostics::METHOD.to_owned(),
                params,
            )))?;
        Ok(())
    }

    /// Re-checks the project of `uri` and sends every file's diagnostics.
    fn publish(&mut self, uri: &Uri) -> Result<()> {
        let analysis = self.analyze(uri);
        let uri_of = |file: &nudge_syntax::SourceFile| {
            analysis
                .files
                .iter()
                .find(|f| f.source.name() == file.name())
                .map(|f| f.uri.clone())
        };
        for (i, file) in analysis.files.iter().enumerate() {
            let diagnostics: Vec<lsp_types::Diagnostic> = analysis.diagnostics[i]
                .iter()
                .map(|d| convert::diagnostic(&file.source, d, &uri_of))
                .collect();
            let key = file.uri.to_string();
            if diagnostics.is_empty() && !self.published.contains(&key) && file.uri != *uri {
                continue;
            }
            if diagnostics.is_empty() {
                self.published.remove(&key);
            } else {
                self.published.insert(key);
            }
            self.send_diagnostics(file.uri.clone(), diagnostics)?;
        }
        if analysis.checker_failed && !self.told_checker_failed {
            self.told_checker_failed = true;
            let params = lsp_types::ShowMessageParams {
                typ: lsp_types::MessageType::ERROR,
                message: "nudge: internal error in the type checker; only syntax errors are \
                          shown for this project (details in the log)"
                    .to_owned(),
            };
            self.connection
                .sender
                .send(Message::Notification(Notification::new(
                    ShowMessage::METHOD.to_owned(),
                    params,
                )))?;
        }
        Ok(())
    }

    /// The analysis of the project of `uri`, reused until the next change.
    fn analyze(&self, uri: &Uri) -> Rc<Analysis> {
        let key = project_key(uri);
        if let Some((cached, analysis)) = &*self.cache.borrow() {
            if *cached == key && analysis.file_index(uri).is_some() {
                return analysis.clone();
            }
        }
        let analysis = Rc::new(analysis::analyze(
            analysis::project_files(uri, &self.buffers, &mut self.disk.borrow_mut()),
            uri,
            &mut self.parses.borrow_mut(),
        ));
        self.cache.replace(Some((key, analysis.clone())));
        analysis
    }

    fn request(&mut self, request: Request) -> Result<()> {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => params(request).map(|p| self.hover(p)),
            GotoDefinition::METHOD => params(request).map(|p| self.definition(p)),
            Completion::METHOD => params(request).map(|p| self.completion(p)),
            DocumentSymbolRequest::METHOD => params(request).map(|p| self.symbols(p)),
            Formatting::METHOD => params(request).and_then(|p| self.format(p)),
            CodeActionRequest::METHOD => params(request).map(|p| self.code_actions(p)),
            lsp_types::request::ExecuteCommand::METHOD => {
                params(request).and_then(|p| self.execute(p))
            }
            method => Err((
                ErrorCode::MethodNotFound,
                format!("`{method}` is not supported"),
            )),
        };
        self.respond(id, result)
    }

    /// `workspace/executeCommand`.
    fn execute(
        &self,
        p: lsp_types::ExecuteCommandParams,
    ) -> std::result::Result<Value, (ErrorCode, String)> {
        if p.command != GRAPH_COMMAND {
            return Err((
                ErrorCode::InvalidParams,
                format!("no command `{}`; there is `{GRAPH_COMMAND}`", p.command),
            ));
        }
        let uri: Uri = p
            .arguments
            .first()
            .and_then(|a| a.as_str())
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| {
                (
                    ErrorCode::InvalidParams,
                    format!("`{GRAPH_COMMAND}` takes a document URI (and a workflow)"),
                )
            })?;
        let workflow = p.arguments.get(1).and_then(|a| a.as_str());
        let files: Vec<_> =
            analysis::project_files(&uri, &self.buffers, &mut self.disk.borrow_mut())
                .into_iter()
                .map(|f| f.source)
                .collect();
        let checked = nudge_check::check_project(&files, &nudge_check::FsLoader);
        let has_errors = checked
            .diagnostics
            .iter()
            .any(|d| d.severity == nudge_syntax::Severity::Error);
        let program = match &checked.program {
            Some(p) if !has_errors => p,
            _ => {
                return Err((
                    ErrorCode::RequestFailed,
                    "the project has errors: fix them to draw it".to_owned(),
                ))
            }
        };
        let graphs =
            nudge_check::graph::graphs(program, workflow, &std::collections::BTreeMap::new());
        if graphs.is_empty() {
            return Err((
                ErrorCode::InvalidParams,
                match workflow {
                    Some(w) => format!("the project has no workflow `{w}`"),
                    None => "the project has no workflow".to_owned(),
                },
            ));
        }
        Ok(Value::String(nudge_check::graph::to_mermaid(&graphs)))
    }

    /// Drops the cached analysis (after a handler panicked, it may be
    /// half-built).
    fn forget_analysis(&mut self) {
        self.cache = RefCell::new(None);
    }

    fn respond(
        &self,
        id: RequestId,
        result: std::result::Result<Value, (ErrorCode, String)>,
    ) -> Result<()> {
        let response = match result {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        };
        self.connection.sender.send(Message::Response(response))?;
        Ok(())
    }

    /// The project of `uri`, the file's index in it and the byte offset of
    /// `position`.
    fn locate(
        &self,
        uri: &Uri,
        position: lsp_types::Position,
    ) -> Option<(Rc<Analysis>, usize, usize)> {
        let analysis = self.analyze(uri);
        let file = analysis.file_index(uri)?;
        let offset = convert::offset(&analysis.files[file].source, position);
        Some((analysis, file, offset))
    }

    fn hover(&self, p: HoverParams) -> Value {
        let at = &p.text_document_position_params;
        let hover =
            self.locate(&at.text_document.uri, at.position)
                .and_then(|(analysis, file, offset)| {
                    let reference = analysis.index.reference_at(file, offset)?;
                    let text = navigate::hover(&analysis.index, &reference.target)?;
                    Some(Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: text,
                        }),
                        range: Some(convert::range(&analysis.files[file].source, reference.span)),
                    })
                });
        serde_json::to_value(hover).unwrap_or(Value::Null)
    }

    fn definition(&self, p: GotoDefinitionParams) -> Value {
        let at = &p.text_document_position_params;
        let location =
            self.locate(&at.text_document.uri, at.position)
                .and_then(|(analysis, file, offset)| {
                    let reference = analysis.index.reference_at(file, offset)?;
                    let (target_file, span) =
                        navigate::definition(&analysis.index, &reference.target)?;
                    let target = analysis.files.get(target_file)?;
                    Some(GotoDefinitionResponse::Scalar(Location {
                        uri: target.uri.clone(),
                        range: convert::range(&target.source, span),
                    }))
                });
        serde_json::to_value(location).unwrap_or(Value::Null)
    }

    fn completion(&self, p: CompletionParams) -> Value {
        let at = &p.text_document_position;
        let items = self
            .locate(&at.text_document.uri, at.position)
            .map(|(analysis, file, offset)| {
                completion::complete(&analysis.index, analysis.files[file].source.text(), offset)
            })
            .unwrap_or_default();
        serde_json::to_value(CompletionResponse::Array(items)).unwrap_or(Value::Null)
    }

    /// Quick fixes for the diagnostics in the range asked about.
    fn code_actions(&self, p: lsp_types::CodeActionParams) -> Value {
        let uri = &p.text_document.uri;
        let analysis = self.analyze(uri);
        let Some(file) = analysis.file_index(uri) else {
            return serde_json::json!([]);
        };
        let source = &analysis.files[file].source;
        let from = convert::offset(source, p.range.start);
        let to = convert::offset(source, p.range.end);
        let uri_of = |f: &nudge_syntax::SourceFile| {
            analysis
                .files
                .iter()
                .find(|x| x.source.name() == f.name())
                .map(|x| x.uri.clone())
        };
        let actions: Vec<lsp_types::CodeAction> = analysis.diagnostics[file]
            .iter()
            .filter_map(|d| {
                let fix = fixes::fix(source, d)?;
                let marked = d.primary_span()?;
                if (marked.end as usize) < from || (marked.start as usize) > to {
                    return None;
                }
                let edit = lsp_types::TextDocumentEdit {
                    text_document: lsp_types::OptionalVersionedTextDocumentIdentifier {
                        uri: uri.clone(),
                        version: None,
                    },
                    edits: vec![OneOf::Left(TextEdit {
                        range: convert::range(source, fix.span),
                        new_text: fix.text,
                    })],
                };
                Some(lsp_types::CodeAction {
                    title: fix.title,
                    kind: Some(lsp_types::CodeActionKind::QUICKFIX),
                    diagnostics: Some(vec![convert::diagnostic(source, d, &uri_of)]),
                    edit: Some(lsp_types::WorkspaceEdit {
                        document_changes: Some(lsp_types::DocumentChanges::Edits(vec![edit])),
                        ..lsp_types::WorkspaceEdit::default()
                    }),
                    is_preferred: Some(true),
                    ..lsp_types::CodeAction::default()
                })
            })
            .collect();
        serde_json::to_value(actions).unwrap_or(Value::Null)
    }

    fn symbols(&self, p: DocumentSymbolParams) -> Value {
        let analysis = self.analyze(&p.text_document.uri);
        let symbols = analysis
            .file_index(&p.text_document.uri)
            .map(|file| {
                symbols::document_symbols(&analysis.index, file, &analysis.files[file].source)
            })
            .unwrap_or_default();
        serde_json::to_value(DocumentSymbolResponse::Nested(symbols)).unwrap_or(Value::Null)
    }

    fn format(
        &self,
        p: DocumentFormattingParams,
    ) -> std::result::Result<Value, (ErrorCode, String)> {
        let analysis = self.analyze(&p.text_document.uri);
        let Some(file) = analysis.file_index(&p.text_document.uri) else {
            return Ok(Value::Null);
        };
        let source = analysis.files[file].source.clone();
        match formatting::format_document(source.clone()) {
            Ok(text) if text == source.text() => Ok(serde_json::json!([])),
            Ok(text) => {
                let edit = TextEdit {
                    range: convert::range(&source, nudge_syntax::Span::new(0, source.text().len())),
                    new_text: text,
                };
                Ok(serde_json::to_value(vec![edit]).unwrap_or(Value::Null))
            }
            Err(diagnostics) => {
                let first = diagnostics
                    .first()
                    .map_or_else(String::new, |d| format!(": {}", d.message));
                Err((
                    ErrorCode::RequestFailed,
                    format!("the file has syntax errors and cannot be formatted{first}"),
                ))
            }
        }
    }
}

/// The folders of the workspace from `initialize`: its `workspaceFolders`,
/// else its `rootUri`, else its `rootPath`.
#[allow(deprecated)]
fn workspace_roots(p: &InitializeParams) -> Vec<std::path::PathBuf> {
    if let Some(folders) = &p.workspace_folders {
        return folders
            .iter()
            .filter_map(|f| crate::uri::to_path(&f.uri))
            .collect();
    }
    if let Some(root) = p.root_uri.as_ref().and_then(crate::uri::to_path) {
        return vec![root];
    }
    p.root_path
        .as_ref()
        .map(|r| vec![std::path::PathBuf::from(r)])
        .unwrap_or_default()
}

/// Folders that hold `.flow` files under `root` (itself included), each a
/// project; hidden folders, `target` and `node_modules` are skipped, and
/// the walk stops after a few thousand folders.
fn project_folders(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    const MAX_FOLDERS: usize = 5_000;
    let mut found = Vec::new();
    let mut seen = 0;
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        seen += 1;
        if seen > MAX_FOLDERS {
            break;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut has_flow = false;
        let mut subdirs = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            match entry.file_type() {
                Ok(t)
                    if t.is_dir()
                        && !name.starts_with('.')
                        && name != "target"
                        && name != "node_modules" =>
                {
                    subdirs.push(path);
                }
                Ok(t) if t.is_dir() => {}
                Ok(t) if t.is_file() => has_flow |= name.ends_with(".flow"),
                _ => {}
            }
        }
        if has_flow {
            found.push(dir);
        }
        subdirs.sort();
        todo.extend(subdirs.into_iter().rev());
    }
    found
}

/// The project a document belongs to: its folder, or the document itself
/// when it is not a local file.
fn params<P: DeserializeOwned>(request: Request) -> std::result::Result<P, (ErrorCode, String)> {
    serde_json::from_value(request.params)
        .map_err(|e| (ErrorCode::InvalidParams, format!("invalid parameters: {e}")))
}

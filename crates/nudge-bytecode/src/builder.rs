//! An assembler for modules: interned side tables, functions with labels.
//!
//! Tests build programs with it by hand, and the compiler uses the same API,
//! so both go through one path that the verifier then checks.
//!
//! ```
//! use nudge_bytecode::*;
//! let mut mb = ModuleBuilder::new("test");
//! let mut f = FunctionBuilder::new("audience", FunctionKind::Expr);
//! f.emit(Instr::Bool(true));
//! f.emit(Instr::Return);
//! let audience = mb.add_function(f).unwrap();
//! assert_eq!(audience, 0);
//! assert!(verify(&mb.build()).is_ok());
//! ```

use std::collections::HashMap;

use crate::instr::*;
use crate::module::*;
use crate::verify::{verify, VerifyError};

/// A position in a function that jumps can name before it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

/// Why a function could not be assembled.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// A label was jumped to but never placed.
    #[error("label {0} in `{1}` is used but never placed")]
    UnboundLabel(u32, String),
    /// A table outgrew its index type.
    #[error("too many entries in the {0} table")]
    TableFull(&'static str),
}

#[derive(Clone, Copy, Debug)]
enum Patch {
    Jump { at: usize, label: Label },
    WaitForThen(WaitForId, Label),
    WaitForElse(WaitForId, Label),
    SplitArm(SplitId, usize, Label),
    SplitEnd(SplitId, Label),
    EscalationEnd(EscalationId, Label),
}

/// Builds one function.
#[derive(Clone, Debug)]
pub struct FunctionBuilder {
    name: String,
    kind: FunctionKind,
    code: Vec<Instr>,
    spans: Vec<SourceSpan>,
    span: SourceSpan,
    labels: Vec<Option<Pc>>,
    patches: Vec<Patch>,
}

impl FunctionBuilder {
    /// A new, empty function.
    pub fn new(name: impl Into<String>, kind: FunctionKind) -> Self {
        FunctionBuilder {
            name: name.into(),
            kind,
            code: Vec::new(),
            spans: Vec::new(),
            span: SourceSpan::NONE,
            labels: Vec::new(),
            patches: Vec::new(),
        }
    }

    /// The span recorded for the instructions emitted from now on.
    pub fn set_span(&mut self, span: SourceSpan) {
        self.span = span;
    }

    /// The pc the next instruction gets.
    pub fn pc(&self) -> Pc {
        u32::try_from(self.code.len()).unwrap_or(u32::MAX)
    }

    /// Appends an instruction; returns its pc.
    pub fn emit(&mut self, instr: Instr) -> Pc {
        let pc = self.pc();
        self.code.push(instr);
        self.spans.push(self.span);
        pc
    }

    /// A fresh, unplaced label.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(u32::try_from(self.labels.len() - 1).unwrap_or(u32::MAX))
    }

    /// Places `label` at the next instruction.
    pub fn bind(&mut self, label: Label) {
        let pc = self.pc();
        if let Some(slot) = self.labels.get_mut(label.0 as usize) {
            *slot = Some(pc);
        }
    }

    /// Emits a jump-like instruction (`Jump`, `JumpIfFalse`, …) to `label`;
    /// `make` builds the instruction from the target.
    pub fn emit_jump(&mut self, make: fn(Pc) -> Instr, label: Label) -> Pc {
        let at = self.code.len();
        self.patches.push(Patch::Jump { at, label });
        self.emit(make(0))
    }

    /// Records that `wait_for`'s `then`/`else` pcs are these labels.
    pub fn patch_wait_for(&mut self, id: WaitForId, then_label: Label, else_label: Label) {
        self.patches.push(Patch::WaitForThen(id, then_label));
        self.patches.push(Patch::WaitForElse(id, else_label));
    }

    /// Records that arm `arm` of `split` starts at `label`.
    pub fn patch_split_arm(&mut self, id: SplitId, arm: usize, label: Label) {
        self.patches.push(Patch::SplitArm(id, arm, label));
    }

    /// Records that `split` ends at `label`.
    pub fn patch_split_end(&mut self, id: SplitId, label: Label) {
        self.patches.push(Patch::SplitEnd(id, label));
    }

    /// Records that `escalation` ends at `label`.
    pub fn patch_escalation_end(&mut self, id: EscalationId, label: Label) {
        self.patches.push(Patch::EscalationEnd(id, label));
    }
}

/// Builds a module.
#[derive(Clone, Debug, Default)]
pub struct ModuleBuilder {
    module: Module,
    strings: HashMap<String, StringId>,
    durations: HashMap<i64, DurationId>,
}

fn index<T>(v: &[T], what: &'static str) -> Result<u16, BuildError> {
    u16::try_from(v.len()).map_err(|_| BuildError::TableFull(what))
}

impl ModuleBuilder {
    /// A new builder; `compiler_version` goes into the header.
    pub fn new(compiler_version: impl Into<String>) -> Self {
        ModuleBuilder {
            module: Module {
                compiler_version: compiler_version.into(),
                ..Module::default()
            },
            ..ModuleBuilder::default()
        }
    }

    /// The module so far (for lookups while building).
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The module so far, for edits the builder has no method for (tests
    /// use it to corrupt modules on purpose).
    pub fn module_mut(&mut self) -> &mut Module {
        &mut self.module
    }

    /// A builder that continues an existing module.
    pub fn from_module(module: Module) -> Self {
        let strings = module
            .strings
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((s.clone(), u32::try_from(i).ok()?)))
            .collect();
        let durations = module
            .durations
            .iter()
            .enumerate()
            .filter_map(|(i, d)| Some((*d, u16::try_from(i).ok()?)))
            .collect();
        ModuleBuilder {
            module,
            strings,
            durations,
        }
    }

    /// Sets the source hash written in the header.
    pub fn set_source_hash(&mut self, hash: u64) {
        self.module.source_hash = hash;
    }

    /// Adds a source file name; returns its index for spans.
    pub fn file(&mut self, name: impl Into<String>) -> u16 {
        self.module.files.push(name.into());
        u16::try_from(self.module.files.len() - 1).unwrap_or(SourceSpan::NO_FILE)
    }

    /// Adds a constant.
    pub fn constant(&mut self, c: Const) -> ConstId {
        if let Some(i) = self.module.consts.iter().position(|x| *x == c) {
            return u32::try_from(i).unwrap_or(u32::MAX);
        }
        self.module.consts.push(c);
        u32::try_from(self.module.consts.len() - 1).unwrap_or(u32::MAX)
    }

    /// Interns a string.
    pub fn string(&mut self, s: &str) -> StringId {
        if let Some(&id) = self.strings.get(s) {
            return id;
        }
        let id = u32::try_from(self.module.strings.len()).unwrap_or(u32::MAX);
        self.module.strings.push(s.to_owned());
        self.strings.insert(s.to_owned(), id);
        id
    }

    /// Interns a duration in seconds.
    pub fn duration(&mut self, seconds: i64) -> Result<DurationId, BuildError> {
        if let Some(&id) = self.durations.get(&seconds) {
            return Ok(id);
        }
        let id = index(&self.module.durations, "duration")?;
        self.module.durations.push(seconds);
        self.durations.insert(seconds, id);
        Ok(id)
    }

    /// Declares an enum.
    pub fn enum_schema(&mut self, name: &str, members: &[&str]) -> Result<u16, BuildError> {
        let id = index(&self.module.schemas.enums, "enum")?;
        self.module.schemas.enums.push(EnumSchema {
            name: name.to_owned(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
        });
        Ok(id)
    }

    /// Declares a profile field.
    pub fn profile_field(&mut self, name: &str, ty: Type) -> Result<FieldId, BuildError> {
        let id = index(&self.module.schemas.profile, "profile field")?;
        self.module.schemas.profile.push(FieldSchema {
            name: name.to_owned(),
            ty,
            default: None,
        });
        Ok(id)
    }

    /// Declares an event with its fields.
    pub fn event_schema(
        &mut self,
        name: &str,
        fields: &[(&str, Type)],
    ) -> Result<EventId, BuildError> {
        let id = index(&self.module.schemas.events, "event")?;
        self.module.schemas.events.push(EventSchema {
            name: name.to_owned(),
            fields: fields
                .iter()
                .map(|(n, t)| FieldSchema {
                    name: (*n).to_owned(),
                    ty: t.clone(),
                    default: None,
                })
                .collect(),
        });
        Ok(id)
    }

    /// Replaces the schemas wholesale (the compiler copies the checker's).
    pub fn set_schemas(&mut self, schemas: Schemas) {
        self.module.schemas = schemas;
    }

    /// Adds a finished function, resolving its labels.
    pub fn add_function(&mut self, f: FunctionBuilder) -> Result<FunctionId, BuildError> {
        let id = index(&self.module.functions, "function")?;
        let FunctionBuilder {
            name,
            kind,
            mut code,
            spans,
            labels,
            patches,
            ..
        } = f;
        let resolve = |label: Label| -> Result<Pc, BuildError> {
            labels
                .get(label.0 as usize)
                .copied()
                .flatten()
                .ok_or_else(|| BuildError::UnboundLabel(label.0, name.clone()))
        };
        for patch in patches {
            match patch {
                Patch::Jump { at, label } => {
                    let target = resolve(label)?;
                    if let Some(instr) = code.get_mut(at) {
                        *instr = match *instr {
                            Instr::Jump(_) => Instr::Jump(target),
                            Instr::JumpIfFalse(_) => Instr::JumpIfFalse(target),
                            Instr::JumpIfFalseKeep(_) => Instr::JumpIfFalseKeep(target),
                            Instr::JumpIfTrueKeep(_) => Instr::JumpIfTrueKeep(target),
                            Instr::JumpIfSomeKeep(_) => Instr::JumpIfSomeKeep(target),
                            other => other,
                        };
                    }
                }
                Patch::WaitForThen(w, l) => {
                    let pc = resolve(l)?;
                    if let Some(d) = self.module.wait_fors.get_mut(w as usize) {
                        d.then_pc = pc;
                    }
                }
                Patch::WaitForElse(w, l) => {
                    let pc = resolve(l)?;
                    if let Some(d) = self.module.wait_fors.get_mut(w as usize) {
                        d.else_pc = pc;
                    }
                }
                Patch::SplitArm(s, arm, l) => {
                    let pc = resolve(l)?;
                    if let Some(a) = self
                        .module
                        .splits
                        .get_mut(s as usize)
                        .and_then(|d| d.arms.get_mut(arm))
                    {
                        a.pc = pc;
                    }
                }
                Patch::SplitEnd(s, l) => {
                    let pc = resolve(l)?;
                    if let Some(d) = self.module.splits.get_mut(s as usize) {
                        d.end_pc = pc;
                    }
                }
                Patch::EscalationEnd(e, l) => {
                    let pc = resolve(l)?;
                    if let Some(d) = self.module.escalations.get_mut(e as usize) {
                        d.end_pc = pc;
                    }
                }
            }
        }
        self.module.functions.push(Function {
            name,
            kind,
            code,
            spans,
        });
        Ok(id)
    }

    /// Adds a workflow.
    pub fn add_workflow(&mut self, w: Workflow) -> Result<WorkflowId, BuildError> {
        let id = index(&self.module.workflows, "workflow")?;
        self.module.workflows.push(w);
        Ok(id)
    }

    /// Adds a segment.
    pub fn add_segment(
        &mut self,
        name: &str,
        predicate: FunctionId,
    ) -> Result<SegmentId, BuildError> {
        let id = index(&self.module.segments, "segment")?;
        self.module.segments.push(Segment {
            name: name.to_owned(),
            predicate,
        });
        Ok(id)
    }

    /// Adds a template.
    pub fn add_template(&mut self, t: Template) -> Result<TemplateId, BuildError> {
        let id = index(&self.module.templates, "template")?;
        self.module.templates.push(t);
        Ok(id)
    }

    /// Adds a message descriptor.
    pub fn add_message(&mut self, m: MessageDesc) -> Result<MessageId, BuildError> {
        let id = index(&self.module.messages, "message")?;
        self.module.messages.push(m);
        Ok(id)
    }

    /// Adds a history query.
    pub fn add_query(&mut self, q: Query) -> Result<QueryId, BuildError> {
        let id = index(&self.module.queries, "query")?;
        self.module.queries.push(q);
        Ok(id)
    }

    /// Adds a `wait until` descriptor.
    pub fn add_wait_until(&mut self, w: WaitUntil) -> Result<WaitUntilId, BuildError> {
        let id = index(&self.module.wait_untils, "wait until")?;
        self.module.wait_untils.push(w);
        Ok(id)
    }

    /// Adds a `wait for` descriptor; place its pcs with
    /// [`FunctionBuilder::patch_wait_for`].
    pub fn add_wait_for(
        &mut self,
        event: EventMatch,
        within: DurationId,
    ) -> Result<WaitForId, BuildError> {
        let id = index(&self.module.wait_fors, "wait for")?;
        self.module.wait_fors.push(WaitFor {
            event,
            within,
            then_pc: 0,
            else_pc: 0,
        });
        Ok(id)
    }

    /// Adds a split with arms of these names and shares; place the arms
    /// with [`FunctionBuilder::patch_split_arm`] and the end with
    /// [`FunctionBuilder::patch_split_end`].
    pub fn add_split(&mut self, name: &str, arms: &[(&str, u32)]) -> Result<SplitId, BuildError> {
        let id = index(&self.module.splits, "split")?;
        let names: Vec<StringId> = arms.iter().map(|(n, _)| self.string(n)).collect();
        self.module.arm_names.resize(id as usize, Vec::new());
        self.module.arm_names.push(names);
        let basis_points: Vec<u32> = arms.iter().map(|(_, bp)| *bp).collect();
        let name = self.string(name);
        self.module.splits.push(Split {
            name,
            arms: basis_points
                .iter()
                .map(|&bp| SplitArm {
                    basis_points: bp,
                    pc: 0,
                })
                .collect(),
            end_pc: 0,
        });
        Ok(id)
    }

    /// Adds an escalation; place its end with
    /// [`FunctionBuilder::patch_escalation_end`].
    pub fn add_escalation(&mut self, until: EventMatch) -> Result<EscalationId, BuildError> {
        let id = index(&self.module.escalations, "escalation")?;
        self.module
            .escalations
            .push(Escalation { until, end_pc: 0 });
        Ok(id)
    }

    /// Sets the policies.
    pub fn set_policy(&mut self, policy: Policy) {
        self.module.policy = policy;
    }

    /// The module, unverified.
    pub fn build(self) -> Module {
        self.module
    }

    /// The module, verified.
    pub fn build_verified(self) -> Result<Module, VerifyError> {
        verify(&self.module)?;
        Ok(self.module)
    }
}

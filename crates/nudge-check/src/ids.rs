//! The indexes of the typed program's tables ([`crate::ir::Program`]),
//! below both the program and its types.

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            /// The index into its table.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

id!(
    /// A file of the project: an index into [`Program::files`](crate::ir::Program::files).
    FileId
);
id!(
    /// An index into [`Program::enums`](crate::ir::Program::enums).
    EnumId
);
id!(
    /// An index into [`Program::events`](crate::ir::Program::events).
    EventId
);
id!(
    /// An index into the fields of a [`Schema`].
    FieldId
);
id!(
    /// An index into [`Program::segments`](crate::ir::Program::segments).
    SegmentId
);
id!(
    /// An index into [`Program::templates`](crate::ir::Program::templates).
    TemplateId
);
id!(
    /// An index into [`Program::workflows`](crate::ir::Program::workflows).
    WorkflowId
);

//! Document symbols: the declarations of a file, with their fields,
//! members and goals as children.

use lsp_types::{DocumentSymbol, SymbolKind};
use nudge_syntax::SourceFile;

use crate::convert;
use crate::index::{DeclKind, Index};

/// The outline of file `file`.
pub fn document_symbols(index: &Index, file: usize, source: &SourceFile) -> Vec<DocumentSymbol> {
    index
        .decls
        .iter()
        .filter(|d| d.file == file)
        .map(|d| {
            let kind = match d.kind {
                DeclKind::Enum => SymbolKind::ENUM,
                DeclKind::Profile => SymbolKind::STRUCT,
                DeclKind::Event => SymbolKind::EVENT,
                DeclKind::Segment => SymbolKind::VARIABLE,
                DeclKind::Template => SymbolKind::CLASS,
                DeclKind::Workflow => SymbolKind::FUNCTION,
                DeclKind::Policy => SymbolKind::NAMESPACE,
                DeclKind::Test => SymbolKind::METHOD,
            };
            let child_kind = match d.kind {
                DeclKind::Enum => SymbolKind::ENUM_MEMBER,
                DeclKind::Workflow => SymbolKind::KEY,
                _ => SymbolKind::FIELD,
            };
            let children: Vec<DocumentSymbol> = d
                .children
                .iter()
                .map(|m| {
                    let range = convert::range(source, m.span);
                    symbol(
                        m.name.clone(),
                        (!m.ty.is_empty()).then(|| m.ty.clone()),
                        child_kind,
                        range,
                        range,
                        None,
                    )
                })
                .collect();
            symbol(
                d.name.clone(),
                Some(d.detail.clone()),
                kind,
                convert::range(source, d.span),
                convert::range(source, d.name_span),
                (!children.is_empty()).then_some(children),
            )
        })
        .collect()
}

#[expect(deprecated, reason = "`deprecated` is a required field of the struct")]
fn symbol(
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    range: lsp_types::Range,
    selection_range: lsp_types::Range,
    children: Option<Vec<DocumentSymbol>>,
) -> DocumentSymbol {
    DocumentSymbol {
        name,
        detail,
        kind,
        tags: None,
        deprecated: None,
        range,
        selection_range,
        children,
    }
}

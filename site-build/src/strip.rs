//! The default finish of every module: its custom sections dropped (the function names,
//! about half of a split module's bytes, the producers, the target features). Browsers
//! ignore them; nothing else changes, byte for byte.
//!
//! Measured against `wasm-opt -Oz` on the same build (BENCHMARKS.md): the stripped main
//! module is smaller gzipped (rustc's `opt-level = "z"` with LTO already optimised the
//! code), the split modules together 5 % larger, and it takes milliseconds where wasm-opt
//! took six minutes on two cores.

use anyhow::Context;
use std::path::Path;
use wasm_encoder::{Module, RawSection};
use wasmparser::{Parser, Payload};

/// The module without its custom sections.
pub fn without_custom_sections(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut module = Module::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.context("Not a wasm module")?;
        if let Payload::CustomSection(_) = payload {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            let (start, end) = (range.start as usize, range.end as usize);
            let data = bytes
                .get(start..end)
                .context("A section runs past the end of the module")?;
            module.section(&RawSection { id, data });
        }
    }
    Ok(module.finish())
}

/// Strips every module in place.
pub fn strip_all(modules: &[impl AsRef<Path>]) -> anyhow::Result<()> {
    for module in modules {
        let module = module.as_ref();
        let bytes = std::fs::read(module)
            .with_context(|| format!("Failed to read {}", module.display()))?;
        let stripped = without_custom_sections(&bytes)
            .with_context(|| format!("Failed to strip {}", module.display()))?;
        std::fs::write(module, stripped)
            .with_context(|| format!("Failed to write {}", module.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, CustomSection, ExportKind, ExportSection, Function, FunctionSection,
        Instruction, TypeSection, ValType,
    };

    /// `(func (export "answer") (result i32) i32.const 42)`, with a custom section.
    fn module_with_names() -> Vec<u8> {
        let mut module = Module::new();
        let mut types = TypeSection::new();
        types.ty().function([], [ValType::I32]);
        module.section(&types);
        let mut functions = FunctionSection::new();
        functions.function(0);
        module.section(&functions);
        let mut exports = ExportSection::new();
        exports.export("answer", ExportKind::Func, 0);
        module.section(&exports);
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        body.instruction(&Instruction::I32Const(42));
        body.instruction(&Instruction::End);
        code.function(&body);
        module.section(&code);
        module.section(&CustomSection {
            name: "name".into(),
            data: vec![7; 64].into(),
        });
        module.finish()
    }

    #[test]
    fn custom_sections_go_and_the_rest_stays_byte_for_byte() {
        let original = module_with_names();
        let stripped = without_custom_sections(&original).expect("stripped");
        assert!(stripped.len() < original.len());
        let mut kept = Vec::new();
        for payload in Parser::new(0).parse_all(&stripped) {
            let payload = payload.expect("a valid module");
            assert!(
                !matches!(payload, Payload::CustomSection(_)),
                "no custom section left"
            );
            if let Some((id, range)) = payload.as_section() {
                kept.push((
                    id,
                    stripped[range.start as usize..range.end as usize].to_vec(),
                ));
            }
        }
        let mut before = Vec::new();
        for payload in Parser::new(0).parse_all(&original) {
            let payload = payload.expect("a valid module");
            if let Some((id, range)) = payload.as_section() {
                if id != 0 {
                    before.push((
                        id,
                        original[range.start as usize..range.end as usize].to_vec(),
                    ));
                }
            }
        }
        assert_eq!(kept, before);
        wasmparser::validate(&stripped).expect("still a valid module");
    }

    #[test]
    fn what_is_not_wasm_is_an_error() {
        assert!(without_custom_sections(b"not wasm at all").is_err());
    }
}

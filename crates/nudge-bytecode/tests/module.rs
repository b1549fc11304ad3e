//! Module format, verifier and disassembler tests on hand-assembled modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use nudge_bytecode::*;

const SOURCE: &str = r#"workflow abandoned_checkout {
  on checkout_abandoned where event.cart_total > 20.0
  audience profile.email != none
  exit on order_completed
  entry restart
  goal converted = order_completed within 3d

  split subject {
    50%: send email a
    50%: {}
  }
  wait 1h
  escalate until order_completed {
    email cart_reminder
    after 24h sms "Your cart expires today" if profile.phone != none
  }
  wait for feature_used within 2d then { send email a } else { exit }
}
"#;

fn span(file: u16, text: &str) -> SourceSpan {
    let start = SOURCE.find(text).expect("text in source") as u32;
    SourceSpan {
        file,
        start,
        end: start + text.len() as u32,
    }
}

/// A module using every table and most instructions.
pub fn sample() -> Module {
    let mut mb = ModuleBuilder::new("0.1.0-test");
    mb.set_source_hash(stable_hash(SOURCE.as_bytes()));
    let file = mb.file("shop.flow");
    let plan = mb.enum_schema("Plan", &["starter", "pro"]).unwrap();
    let email = mb
        .profile_field("email", Type::Optional(Box::new(Type::Email)))
        .unwrap();
    let phone = mb
        .profile_field("phone", Type::Optional(Box::new(Type::Phone)))
        .unwrap();
    mb.profile_field("plan", Type::Enum(plan)).unwrap();
    let abandoned = mb
        .event_schema(
            "checkout_abandoned",
            &[("product_name", Type::String), ("cart_total", Type::Float)],
        )
        .unwrap();
    let order = mb
        .event_schema("order_completed", &[("total", Type::Float)])
        .unwrap();
    let feature = mb
        .event_schema("feature_used", &[("feature", Type::String)])
        .unwrap();

    // Trigger filter: event.cart_total > 20.0
    let twenty = mb.constant(Const::Float(20.0));
    let mut f = FunctionBuilder::new("abandoned_checkout on filter", FunctionKind::Expr);
    f.set_span(span(file, "event.cart_total > 20.0"));
    f.emit(Instr::LoadEvent(1));
    f.emit(Instr::Const(twenty));
    f.emit(Instr::Cmp(CmpOp::Gt));
    f.emit(Instr::Return);
    let trigger_filter = mb.add_function(f).unwrap();

    // Audience: profile.email != none
    let mut f = FunctionBuilder::new("abandoned_checkout audience", FunctionKind::Expr);
    f.set_span(span(file, "profile.email != none"));
    f.emit(Instr::LoadProfile(email));
    f.emit(Instr::None);
    f.emit(Instr::Cmp(CmpOp::Ne));
    f.emit(Instr::Return);
    let audience = mb.add_function(f).unwrap();

    // Guard: profile.phone != none
    let mut f = FunctionBuilder::new("escalation guard", FunctionKind::Expr);
    f.set_span(span(file, "profile.phone != none"));
    f.emit(Instr::LoadProfile(phone));
    f.emit(Instr::None);
    f.emit(Instr::Cmp(CmpOp::Ne));
    f.emit(Instr::Return);
    let guard = mb.add_function(f).unwrap();

    // Interpolation: event.product_name
    let mut f = FunctionBuilder::new("cart_reminder subject", FunctionKind::Expr);
    f.emit(Instr::LoadEvent(0));
    f.emit(Instr::Return);
    let product = mb.add_function(f).unwrap();

    let subject = mb.string("subject");
    let left = mb.string("You left ");
    let in_cart = mb.string(" in your cart");
    let cart_reminder = mb
        .add_template(Template {
            name: "cart_reminder".into(),
            channel: Channel::Email,
            event: Some(abandoned),
            fields: vec![MessageField {
                name: subject,
                value: FieldValue::Text(vec![
                    StringPart::Text(left),
                    StringPart::Value(product),
                    StringPart::Text(in_cart),
                ]),
            }],
        })
        .unwrap();
    let a = mb
        .add_template(Template {
            name: "a".into(),
            channel: Channel::Email,
            event: None,
            fields: vec![],
        })
        .unwrap();
    let send_a = mb
        .add_message(MessageDesc {
            channel: Channel::Email,
            template: Some(a),
            overrides: vec![],
            address: Some(email),
        })
        .unwrap();
    let send_reminder = mb
        .add_message(MessageDesc {
            channel: Channel::Email,
            template: Some(cart_reminder),
            overrides: vec![],
            address: Some(email),
        })
        .unwrap();
    let text = mb.string("text");
    let expires = mb.string("Your cart expires today");
    let send_sms = mb
        .add_message(MessageDesc {
            channel: Channel::Sms,
            template: None,
            overrides: vec![MessageField {
                name: text,
                value: FieldValue::Text(vec![StringPart::Text(expires)]),
            }],
            address: Some(phone),
        })
        .unwrap();

    let hour = mb.duration(3600).unwrap();
    let day = mb.duration(86_400).unwrap();
    let two_days = mb.duration(2 * 86_400).unwrap();
    let three_days = mb.duration(3 * 86_400).unwrap();
    let split = mb
        .add_split("subject", &[("a", 5000), ("b", 5000)])
        .unwrap();
    let esc = mb
        .add_escalation(EventMatch {
            event: order,
            filter: None,
        })
        .unwrap();
    let wait_for = mb
        .add_wait_for(
            EventMatch {
                event: feature,
                filter: None,
            },
            two_days,
        )
        .unwrap();

    let mut b = FunctionBuilder::new("workflow abandoned_checkout", FunctionKind::Body);
    let (arm_a, arm_b, after_split) = (b.label(), b.label(), b.label());
    b.set_span(span(file, "split subject"));
    b.emit(Instr::Split(split));
    b.patch_split_arm(split, 0, arm_a);
    b.patch_split_arm(split, 1, arm_b);
    b.patch_split_end(split, after_split);
    b.bind(arm_a);
    b.set_span(span(file, "send email a"));
    b.emit(Instr::Send(send_a));
    b.emit_jump(Instr::Jump, after_split);
    b.bind(arm_b);
    b.bind(after_split);
    b.set_span(span(file, "wait 1h"));
    b.emit(Instr::Wait(hour));
    b.set_span(span(file, "escalate until order_completed"));
    let esc_end = b.label();
    b.emit(Instr::EscalateBegin(esc));
    b.patch_escalation_end(esc, esc_end);
    b.set_span(span(file, "email cart_reminder"));
    b.emit(Instr::Send(send_reminder));
    b.set_span(span(file, "after 24h sms"));
    b.emit(Instr::WaitFromEscalation(day));
    let skip = b.label();
    b.emit(Instr::InSegment(0));
    b.emit_jump(Instr::JumpIfFalse, skip);
    b.emit(Instr::Send(send_sms));
    b.bind(skip);
    b.emit(Instr::EscalateEnd);
    b.bind(esc_end);
    b.set_span(span(file, "wait for feature_used"));
    let (then_l, else_l) = (b.label(), b.label());
    b.emit(Instr::WaitFor(wait_for));
    b.patch_wait_for(wait_for, then_l, else_l);
    b.bind(then_l);
    b.emit(Instr::Send(send_a));
    b.emit(Instr::Return);
    b.bind(else_l);
    b.emit(Instr::Exit);
    let body = mb.add_function(b).unwrap();
    mb.add_segment("has_phone", guard).unwrap();

    let converted = mb.string("converted");
    mb.add_workflow(Workflow {
        name: "abandoned_checkout".into(),
        triggers: vec![Trigger::Event(EventMatch {
            event: abandoned,
            filter: Some(trigger_filter),
        })],
        audience: Some(audience),
        exit_on: vec![EventMatch {
            event: order,
            filter: None,
        }],
        entry: EntryRule::Restart,
        goals: vec![Goal {
            name: converted,
            event: EventMatch {
                event: order,
                filter: None,
            },
            within: three_days,
        }],
        priority: Priority::Marketing,
        body,
    })
    .unwrap();

    mb.add_query(Query {
        event: EventMatch {
            event: order,
            filter: None,
        },
        count: Some((CmpOp::Ge, 3)),
        window: Window::Within(day),
    })
    .unwrap();
    let berlin = mb.string("Europe/Berlin");
    mb.add_wait_until(WaitUntil {
        minutes: 9 * 60,
        zone: Zone::Named(berlin),
        day: DaySpec::Day(5),
    })
    .unwrap();
    mb.set_policy(Policy {
        caps: vec![
            Cap {
                count: 2,
                per: 48 * 3600,
                channels: vec![],
            },
            Cap {
                count: 1,
                per: 24 * 3600,
                channels: vec![Channel::Sms],
            },
        ],
        quiet_hours: vec![QuietHours {
            from: 21 * 60,
            to: 8 * 60,
            zone: Zone::Local,
            channels: vec![Channel::Push, Channel::Sms],
        }],
    });
    mb.build_verified().expect("sample verifies")
}

#[test]
fn instr_size_is_locked() {
    assert_eq!(std::mem::size_of::<Instr>(), 8);
}

#[test]
fn module_round_trips() {
    let m = sample();
    let bytes = m.to_bytes().unwrap();
    assert_eq!(&bytes[..4], b"NUDG");
    let back = Module::from_bytes(&bytes).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.to_bytes().unwrap(), bytes, "encoding is deterministic");
    let header = Module::read_header(&bytes).unwrap();
    assert_eq!(header.format_version, FORMAT_VERSION);
    assert_eq!(header.compiler_version, "0.1.0-test");
    assert_eq!(header.source_hash, stable_hash(SOURCE.as_bytes()));
}

#[test]
fn truncated_module_is_reported() {
    let bytes = sample().to_bytes().unwrap();
    for cut in [2, 4, 7, 20, bytes.len() - 1] {
        let err = Module::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(
            matches!(err, LoadError::Truncated { .. }),
            "cut {cut}: {err:?}"
        );
    }
    let err = Module::from_bytes(&bytes[..bytes.len() - 10]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the module is truncated: expected {} bytes, found {}",
            bytes.len(),
            bytes.len() - 10
        )
    );
}

#[test]
fn corrupted_module_is_reported() {
    let mut bytes = sample().to_bytes().unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    assert_eq!(
        Module::from_bytes(&bytes).unwrap_err(),
        LoadError::Corrupted
    );
    assert_eq!(
        LoadError::Corrupted.to_string(),
        "the module is corrupted (checksum mismatch)"
    );
}

#[test]
fn bad_magic_is_reported() {
    assert_eq!(
        Module::from_bytes(b"PK\x03\x04rest").unwrap_err(),
        LoadError::BadMagic
    );
    assert_eq!(
        Module::from_bytes(b"").unwrap_err(),
        LoadError::Truncated {
            expected: 4,
            found: 0
        }
    );
}

#[test]
fn newer_version_is_reported() {
    let mut bytes = sample().to_bytes().unwrap();
    bytes[4..6].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let err = Module::from_bytes(&bytes).unwrap_err();
    assert_eq!(
        err,
        LoadError::NewerVersion {
            found: FORMAT_VERSION + 1,
            supported: FORMAT_VERSION,
            compiler: "0.1.0-test".into()
        }
    );
    assert!(err
        .to_string()
        .contains("format version 5, this build reads up to 4"));
}

#[test]
fn a_format_1_module_reads_with_arms_named_by_position() {
    let mut m = sample();
    assert!(!m.splits.is_empty());
    m.arm_names.clear();
    let v2 = m.to_bytes().unwrap();
    // Format 1 is format 2 without the arm-name table (its last byte, the
    // empty table's length).
    let header_len = 4 + 2 + 2 + m.compiler_version.len() + 8;
    let body = &v2[header_len + 12..v2.len() - 1];
    let mut v1 = v2[..header_len].to_vec();
    v1[4..6].copy_from_slice(&1u16.to_le_bytes());
    v1.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    v1.extend_from_slice(&nudge_bytecode::stable_hash(body).to_le_bytes());
    v1.extend_from_slice(body);
    let read = Module::from_bytes(&v1).unwrap();
    assert_eq!(read, m);
    assert_eq!(read.arm_name(0, 0), "a");
    assert_eq!(read.arm_name(0, 1), "b");
}

#[test]
fn trailing_bytes_are_reported() {
    let mut bytes = sample().to_bytes().unwrap();
    bytes.extend_from_slice(b"xx");
    assert_eq!(
        Module::from_bytes(&bytes).unwrap_err(),
        LoadError::TrailingBytes(2)
    );
}

#[test]
fn disassembly_with_sources() {
    let m = sample();
    let listing = disassemble(
        &m,
        &[ListingSource {
            name: "shop.flow",
            text: SOURCE,
        }],
    );
    insta::assert_snapshot!(listing);
}

#[test]
fn disassembly_without_sources_shows_byte_ranges() {
    let m = sample();
    let listing = disassemble(&m, &[]);
    assert!(listing.contains("; shop.flow@"), "{listing}");
}

#[test]
fn mangled_bodies_never_panic_the_loader_or_the_verifier() {
    let bytes = sample().to_bytes().unwrap();
    // Header: magic, version, compiler version, source hash, body length, checksum.
    let body_at = 4 + 2 + 2 + "0.1.0-test".len() + 8 + 4 + 8;
    let mut decoded = 0;
    for i in body_at..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut m = bytes.clone();
            m[i] ^= mask;
            // Re-seal the checksum so the body reaches the decoder.
            let sum = stable_hash(&m[body_at..]).to_le_bytes();
            m[body_at - 8..body_at].copy_from_slice(&sum);
            if let Ok(module) = Module::from_bytes(&m) {
                decoded += 1;
                let _ = verify(&module);
                let _ = disassemble(&module, &[]);
            }
        }
    }
    assert!(
        decoded > 0,
        "some mutations still decode, and were verified"
    );
}

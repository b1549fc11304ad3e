/**
 * @file Tree-sitter grammar for Nudge `.flow` files.
 * @license Apache-2.0
 *
 * Derived from `grammar/flow.pest`, the grammar of the real parser
 * (crates/nudge-syntax). Rule names follow the pest rules where they can;
 * comments name the pest rule each one mirrors. Differences are listed in
 * README.md ("How it differs from the real parser").
 */

/// <reference types="tree-sitter-cli/dsl" />
// @ts-check

// Expression precedence, loosest first (flow.pest, parser.rs PRATT):
//   or < and < not < (== != < <= > >= in, is none, is not none) < ?? < + -
const PREC = {
  or: 1,
  and: 2,
  not: 3,
  compare: 4,
  coalesce: 5,
  add: 6,
};

// flow.pest `reserved`: never a declaration, event or member name.
const RESERVED = [
  'and', 'or', 'not', 'in', 'is', 'none', 'true', 'false',
  'did', 'inactive', 'where', 'within', 'since',
  'send', 'wait', 'if', 'else', 'then', 'split', 'escalate', 'after', 'exit',
  'email', 'push', 'sms', 'in_app', 'webhook',
];

/**
 * @param {RuleOrLiteral} rule
 * @param {RuleOrLiteral} separator
 */
const sep1 = (rule, separator) => seq(rule, repeat(seq(separator, rule)));

/**
 * flow.pest `name`: any word, reserved or not (`profile.from`, `in: bool`,
 * `email?` as a type), shown as `as`.
 * @param {GrammarSymbols<string>} $
 * @param {RuleOrLiteral} as
 */
const anyWord = ($, as) => alias(reserved('any_word', $.identifier), as);

/** `x`, `x,` repeated: members and fields are separated by commas or whitespace. */
const commaOptional = (rule) => repeat(seq(rule, optional(',')));

export default grammar({
  name: 'flow',

  extras: $ => [
    // flow.pest WHITESPACE: space, tab, \n, \r and a byte order mark.
    /[ \t\n\r\uFEFF]/,
    $.doc_comment,
    $.comment,
  ],

  word: $ => $.identifier,

  reserved: {
    global: _ => RESERVED,
    // flow.pest `name`: property and field names may be any word.
    any_word: _ => [],
  },

  conflicts: $ => [
    // `expect email at +1h` ends here, or `at +1h "u1" does …` is the next
    // step: flow.pest decides with `!string` after the time.
    [$.expect_message],
  ],

  supertypes: $ => [
    $._declaration,
    $._clause,
    $._statement,
    $._expression,
    $._test_step,
  ],

  rules: {
    // flow.pest `file`
    source_file: $ => repeat($._declaration),

    _declaration: $ => choice(
      $.enum_declaration,
      $.profile_declaration,
      $.event_declaration,
      $.segment_declaration,
      $.template_declaration,
      $.workflow_declaration,
      $.policy_declaration,
      $.test_declaration,
    ),

    // ------------------------------------------------------------ comments

    // `//` to the end of the line; `///` starts a doc comment, and `////`
    // and more slashes make a plain comment again (docs/language.md
    // "Comments"). The two never match the same text, so the longer match
    // decides: `///x` is a doc comment, `////x` a comment.
    comment: _ => token(choice(
      seq('//', optional(seq(/[^/\n]/, /[^\n]*/))),
      seq('////', /[^\n]*/),
    )),
    doc_comment: _ => token(seq('///', optional(seq(/[^/\n]/, /[^\n]*/)))),

    // ------------------------------------------------------------ tokens

    // flow.pest `ident` (minus the reserved words, via `reserved` above).
    identifier: _ => /[A-Za-z_][A-Za-z0-9_]*/,

    // flow.pest `duration`: `30s`, `1d12h`, `2w`.
    duration: _ => /([0-9]+[A-Za-z])+/,
    // flow.pest `percent`: only in `split` arms.
    percent: _ => /[0-9]+(\.[0-9]+)?%/,
    // flow.pest `time_of_day`: `09:00`.
    time_of_day: _ => /[0-9]{1,2}:[0-9]{2}/,
    // flow.pest `timestamp`: RFC 3339.
    timestamp: _ => /[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})/,
    // flow.pest `float` and `int`.
    float: _ => /-?[0-9]+\.[0-9]+/,
    integer: _ => /-?[0-9]+/,
    // flow.pest `offset`: `+30m`, `-2d`, in tests.
    offset: _ => /[+-]([0-9]+[A-Za-z])+/,

    boolean: _ => choice('true', 'false'),
    none: _ => 'none',

    // ------------------------------------------------------------ strings

    // flow.pest `string`: one line, escapes, `{{`/`}}`, `{path ?? default:fmt}`.
    string: $ => seq(
      '"',
      repeat(choice(
        $.string_content,
        $.escape_sequence,
        $.brace_escape,
        $.interpolation,
      )),
      token.immediate('"'),
    ),

    // flow.pest `str_text`: anything but `"`, `\`, `{`, `}` and a line break.
    string_content: _ => token.immediate(prec(2, /[^"\\{}\n]+/)),
    // flow.pest `str_escape`
    escape_sequence: _ => token.immediate(prec(2, /\\(["\\ntr{}]|u\{[0-9A-Fa-f]{1,6}\})/)),
    // flow.pest `str_brace`
    brace_escape: _ => token.immediate(prec(3, choice('{{', '}}'))),

    // flow.pest `interp`: whitespace is allowed inside the braces.
    interpolation: $ => seq(
      token.immediate(prec(2, '{')),
      field('value', $.path),
      optional(seq(
        '??',
        field('default', choice($._literal, $.path)),
      )),
      optional(field('format', $.format_spec)),
      '}',
    ),

    // flow.pest `fmt_spec`: `:.2`, `:,.2`, `:%B %-d`.
    format_spec: _ => token(seq(':', /[^}"{]+/)),

    // ------------------------------------------------------------ schemas

    // flow.pest `enum_decl`
    enum_declaration: $ => seq(
      'enum',
      field('name', $.identifier),
      '{',
      commaOptional($.enum_member),
      '}',
    ),

    // flow.pest `enum_member`
    enum_member: $ => field('name', $.identifier),

    // flow.pest `profile_decl`
    profile_declaration: $ => seq(
      'profile',
      '{',
      commaOptional($.field_declaration),
      '}',
    ),

    // flow.pest `event_decl`
    event_declaration: $ => seq(
      'event',
      field('name', $.identifier),
      '{',
      commaOptional($.field_declaration),
      '}',
    ),

    // flow.pest `field_decl`
    field_declaration: $ => seq(
      field('name', anyWord($, $.property_identifier)),
      ':',
      field('type', $.type),
      optional(seq('=', field('default', $._expression))),
    ),

    // flow.pest `type_expr`
    type: $ => seq(
      choice($.list_type, anyWord($, $.type_identifier)),
      optional($.optional_marker),
    ),
    // flow.pest `list_type`
    list_type: $ => seq('[', $.type, ']'),
    // flow.pest `optional_mark`
    optional_marker: _ => '?',

    // ------------------------------------------------------------ segments

    // flow.pest `segment_decl`
    segment_declaration: $ => seq(
      'segment',
      field('name', $.identifier),
      '=',
      field('condition', $._expression),
    ),

    // ------------------------------------------------------------ templates

    // flow.pest `template_decl`
    template_declaration: $ => seq(
      'template',
      field('name', $.identifier),
      ':',
      field('channel', $.channel),
      optional(seq('for', field('event', $.identifier))),
      field('body', $.object),
    ),

    // flow.pest `channel`
    channel: _ => choice('email', 'push', 'sms', 'in_app', 'webhook'),

    // flow.pest `object`
    object: $ => seq('{', commaOptional($.field_initializer), '}'),

    // flow.pest `field_init`
    field_initializer: $ => seq(
      field('name', anyWord($, $.property_identifier)),
      ':',
      field('value', choice($.file_reference, $.object, $._expression)),
    ),

    // flow.pest `file_ref`
    file_reference: $ => seq('file', '(', field('path', $.string), ')'),

    // ------------------------------------------------------------ workflows

    // flow.pest `workflow_decl`: clauses first, then statements.
    workflow_declaration: $ => seq(
      'workflow',
      field('name', $.identifier),
      '{',
      repeat($._clause),
      repeat($._statement),
      '}',
    ),

    _clause: $ => choice(
      $.on_clause,
      $.audience_clause,
      $.exit_on_clause,
      $.entry_clause,
      $.goal_clause,
      $.priority_clause,
    ),

    // flow.pest `on_clause`
    on_clause: $ => seq('on', sep1(choice($.inactive_trigger, $.date_trigger, $.event_match), ',')),

    // flow.pest `inactive_trigger`
    inactive_trigger: $ => seq('inactive', 'for', field('duration', $.duration)),

    // flow.pest `date_trigger`: `3d before profile.trial_ends_at at 10:00 local`,
    // `anniversary of profile.birthday at 09:00`.
    date_trigger: $ => seq(
      optional(field('offset', $.date_offset)),
      optional($.date_anniversary),
      'profile',
      '.',
      field('field', anyWord($, $.property_identifier)),
      optional(field('at', $.date_at)),
    ),
    // flow.pest `date_offset`
    date_offset: $ => seq(field('duration', $.duration), choice('before', 'after')),
    // flow.pest `date_anniversary`
    date_anniversary: _ => seq('anniversary', 'of'),
    // flow.pest `date_at`
    date_at: $ => seq('at', field('time', $.time_of_day), optional(field('zone', $.zone))),

    // flow.pest `event_match`
    event_match: $ => seq(
      field('event', $.identifier),
      optional(field('filter', $.where_filter)),
    ),

    // flow.pest `where_filter`: one comparison; `and`/`or` need parentheses.
    where_filter: $ => seq('where', $._filter_expression),

    // flow.pest `audience_clause`
    audience_clause: $ => seq('audience', field('condition', $._expression)),

    // flow.pest `exit_on_clause`
    exit_on_clause: $ => seq('exit', 'on', sep1($.event_match, ',')),

    // flow.pest `entry_clause`
    entry_clause: $ => seq('entry', choice($.entry_once, 'restart')),
    // flow.pest `entry_once`
    entry_once: $ => seq('once', optional(seq('per', field('period', $.duration)))),

    // flow.pest `goal_clause`
    goal_clause: $ => seq(
      'goal',
      field('name', $.identifier),
      '=',
      field('event', $.event_match),
      'within',
      field('window', $.duration),
    ),

    // flow.pest `priority_clause`
    priority_clause: $ => seq('priority', $.priority_level),
    // flow.pest `priority_level`
    priority_level: _ => choice('transactional', 'marketing'),

    // ------------------------------------------------------------ statements

    // flow.pest `block`
    block: $ => seq('{', repeat($._statement), '}'),

    _statement: $ => choice(
      $.send_statement,
      $.wait_until_statement,
      $.wait_until_time_statement,
      $.wait_for_statement,
      $.wait_statement,
      $.if_statement,
      $.split_statement,
      $.escalate_statement,
      $.exit_statement,
    ),

    // flow.pest `send_stmt`
    send_statement: $ => seq('send', $.message),

    // flow.pest `message`: `email welcome`, `push { … }`, `sms "…"`,
    // `email welcome { subject: "…" }`. A name after the channel is always
    // its template (pest's ordered choice takes it greedily).
    message: $ => prec.right(seq(
      field('channel', $.channel),
      optional(field('template', $.identifier)),
      optional(field('content', choice($.object, $.string))),
    )),

    // flow.pest `wait_stmt`
    wait_statement: $ => seq('wait', field('duration', $.duration)),

    // flow.pest `wait_until_stmt`
    wait_until_statement: $ => prec(1, seq(
      'wait',
      'until',
      field('time', $.time_of_day),
      optional(field('zone', $.zone)),
      optional(field('day', $.day_spec)),
    )),

    // flow.pest `wait_until_time_stmt`: `wait until profile.trial_ends_at
    // - 1d at 10:00 local`. A bare time of day is the statement above.
    wait_until_time_statement: $ => prec(-1, seq(
      'wait',
      'until',
      field('at', $._expression),
      optional(field('clock', $.date_at)),
    )),

    // flow.pest `zone`: `local` or `in "Europe/Berlin"`.
    zone: $ => choice('local', seq('in', $.string)),

    // flow.pest `day_spec`: `on day 5`, `on friday`.
    day_spec: $ => seq('on', choice($.day_number, $.weekday)),
    // flow.pest `day_number`
    day_number: $ => seq('day', $.integer),
    // flow.pest `weekday`
    weekday: _ => choice(
      'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday',
    ),

    // flow.pest `wait_for_stmt`
    wait_for_statement: $ => seq(
      'wait',
      'for',
      field('event', $.event_match),
      'within',
      field('timeout', $.duration),
      optional(field('then', $.then_branch)),
      optional(field('else', $.else_branch)),
    ),

    // flow.pest `then_branch`
    then_branch: $ => seq('then', $.block),
    // flow.pest `else_branch`
    else_branch: $ => seq('else', $.block),

    // flow.pest `if_stmt`
    if_statement: $ => seq(
      'if',
      field('condition', $._expression),
      field('consequence', $.block),
      repeat($.else_if),
      optional($.else_branch),
    ),

    // flow.pest `else_if`
    else_if: $ => seq('else', 'if', field('condition', $._expression), field('consequence', $.block)),

    // flow.pest `split_stmt`
    split_statement: $ => seq(
      'split',
      field('name', $.identifier),
      '{',
      repeat($.split_arm),
      '}',
    ),

    // flow.pest `split_arm`: `control 50%: send email a` or `50%: { … }`.
    split_arm: $ => seq(
      optional(field('name', $.identifier)),
      field('share', $.percent),
      ':',
      field('body', choice($.block, $._statement)),
    ),

    // flow.pest `escalate_stmt`
    escalate_statement: $ => seq(
      'escalate',
      'until',
      field('event', $.event_match),
      '{',
      repeat($.escalate_step),
      '}',
    ),

    // flow.pest `escalate_step`
    escalate_step: $ => seq(
      optional($.after),
      $.message,
      optional($.guard),
    ),
    // flow.pest `after`
    after: $ => seq('after', field('duration', $.duration)),
    // flow.pest `guard`
    guard: $ => seq('if', field('condition', $._expression)),

    // flow.pest `exit_stmt`
    exit_statement: _ => 'exit',

    // ------------------------------------------------------------ policy

    // flow.pest `policy_decl`
    policy_declaration: $ => seq(
      'policy',
      '{',
      repeat(choice($.cap_rule, $.quiet_hours_rule)),
      '}',
    ),

    // flow.pest `cap_rule`
    cap_rule: $ => seq(
      'cap',
      field('count', $.integer),
      'per',
      field('period', $.duration),
      optional(field('channels', $.channel_list)),
    ),

    // flow.pest `quiet_hours_rule`
    quiet_hours_rule: $ => seq(
      'quiet',
      'hours',
      field('from', $.time_of_day),
      'to',
      field('to', $.time_of_day),
      optional(field('zone', $.zone)),
      optional(field('channels', $.channel_list)),
    ),

    // flow.pest `channel_list`
    channel_list: $ => seq('for', sep1($.channel, ',')),

    // ------------------------------------------------------------ tests

    // flow.pest `test_decl`
    test_declaration: $ => seq(
      'test',
      field('name', $.string),
      '{',
      repeat($._test_step),
      '}',
    ),

    _test_step: $ => choice(
      $.given_profile,
      $.given_arm,
      $.given_event,
      $.at_step,
      $.expect_step,
    ),

    _time_ref: $ => choice($.timestamp, $.offset),

    // flow.pest `given_profile`
    given_profile: $ => seq(
      'given',
      'profile',
      field('customer', $.string),
      field('attributes', $.object),
    ),

    // flow.pest `given_event`
    given_event: $ => seq(
      'given',
      field('customer', $.string),
      'did',
      field('event', $.identifier),
      optional(field('properties', $.object)),
      'at',
      field('time', $._time_ref),
    ),

    // flow.pest `given_arm`
    given_arm: $ => seq(
      'given',
      field('customer', $.string),
      'in',
      $.arm_of_split,
    ),

    // flow.pest `arm_of_split`: `arm discount of split offer`.
    arm_of_split: $ => seq(
      'arm',
      field('arm', $.identifier),
      'of',
      'split',
      field('split', $.split_ref),
    ),

    // flow.pest `split_ref`: `offer` or `welcome.offer`.
    split_ref: $ => seq(
      field('name', $.identifier),
      optional(seq('.', field('name', $.identifier))),
    ),

    // flow.pest `at_step`
    at_step: $ => seq(
      'at',
      field('time', $._time_ref),
      field('customer', $.string),
      choice($.does_action, $.identify_action),
    ),

    // flow.pest `does_action`
    does_action: $ => seq(
      'does',
      field('event', $.identifier),
      optional(field('properties', $.object)),
    ),

    // flow.pest `identify_action`
    identify_action: $ => seq('identify', field('attributes', $.object)),

    // flow.pest `expect_step`
    expect_step: $ => seq('expect', choice($.expect_journey, $.expect_message)),

    // flow.pest `expect_message`
    expect_message: $ => seq(
      optional(field('count', $.message_count)),
      $.message_kind,
      optional($.recipient),
      optional($.message_time),
      repeat($.with_content),
    ),

    // flow.pest `message_count`: `no` or a whole number.
    message_count: $ => choice('no', $.integer),

    // flow.pest `message_kind`: `message(s)`, or a channel and a template.
    message_kind: $ => choice(
      'message',
      'messages',
      seq(
        field('channel', $.channel),
        optional(field('template', $.identifier)),
      ),
    ),

    // flow.pest `recipient`
    recipient: $ => seq('to', field('customer', $.string)),

    // flow.pest `message_time`
    message_time: $ => choice($.at_time, $.between_time, $.within_time),
    // flow.pest `at_time`
    at_time: $ => seq('at', $._time_ref),
    // flow.pest `between_time`
    between_time: $ => seq('between', field('from', $._time_ref), 'and', field('to', $._time_ref)),
    // flow.pest `within_time`
    within_time: $ => seq('within', $.duration),

    // flow.pest `with_content`: `with subject "Hi"`.
    with_content: $ => seq(
      'with',
      field('field', anyWord($, $.property_identifier)),
      field('text', $.string),
    ),

    // flow.pest `expect_journey`
    expect_journey: $ => seq(
      field('customer', $.string),
      choice(
        $.state_entered,
        $.state_not_entered,
        $.state_exited,
        $.state_completed,
        $.state_goal,
        $.state_active,
        $.state_arm,
      ),
    ),

    state_entered: $ => seq('entered', field('workflow', $.identifier)),
    state_not_entered: $ => seq('did', 'not', 'enter', field('workflow', $.identifier)),
    state_exited: $ => seq('exited', field('workflow', $.identifier)),
    state_completed: $ => seq('completed', field('workflow', $.identifier)),
    state_active: $ => seq('is', 'in', field('workflow', $.identifier)),
    state_goal: $ => seq('reached', 'goal', field('goal', $.identifier)),
    state_arm: $ => seq('took', $.arm_of_split),

    // ------------------------------------------------------------ expressions

    _expression: $ => choice(
      $.binary_expression,
      $.not_expression,
      $.is_none_expression,
      $._primary,
    ),

    // flow.pest `expr` with `or_op`, `and_op`, `cmp_op`, `in_op`, `coalesce`, `add_op`.
    // Comparisons are left-associative here; the real parser reports a
    // chained comparison (`a < b < c`) as an error after parsing.
    binary_expression: $ => choice(
      prec.left(PREC.or, seq(field('left', $._expression), field('operator', 'or'), field('right', $._expression))),
      prec.left(PREC.and, seq(field('left', $._expression), field('operator', 'and'), field('right', $._expression))),
      ...['==', '!=', '<=', '>=', '<', '>', 'in'].map(op =>
        prec.left(PREC.compare, seq(field('left', $._expression), field('operator', op), field('right', $._expression))),
      ),
      prec.right(PREC.coalesce, seq(field('left', $._expression), field('operator', '??'), field('right', $._expression))),
      ...['+', '-'].map(op =>
        prec.left(PREC.add, seq(field('left', $._expression), field('operator', op), field('right', $._expression))),
      ),
    ),

    // flow.pest `not_op` (prefix)
    not_expression: $ => prec(PREC.not, seq('not', field('operand', $._expression))),

    // flow.pest `is_none`, `is_not_none` (postfix)
    is_none_expression: $ => prec.left(PREC.compare, seq(
      field('operand', $._expression),
      'is',
      optional('not'),
      'none',
    )),

    // flow.pest `filter_expr`: an expression without `and` / `or` outside
    // parentheses. Its nodes are the same as an expression's.
    _filter_expression: $ => choice(
      alias($.filter_binary_expression, $.binary_expression),
      alias($.filter_not_expression, $.not_expression),
      alias($.filter_is_none_expression, $.is_none_expression),
      $._primary,
    ),

    filter_binary_expression: $ => choice(
      ...['==', '!=', '<=', '>=', '<', '>', 'in'].map(op =>
        prec.left(PREC.compare, seq(field('left', $._filter_expression), field('operator', op), field('right', $._filter_expression))),
      ),
      prec.right(PREC.coalesce, seq(field('left', $._filter_expression), field('operator', '??'), field('right', $._filter_expression))),
      ...['+', '-'].map(op =>
        prec.left(PREC.add, seq(field('left', $._filter_expression), field('operator', op), field('right', $._filter_expression))),
      ),
    ),

    filter_not_expression: $ => prec(PREC.not, seq('not', field('operand', $._filter_expression))),

    filter_is_none_expression: $ => prec.left(PREC.compare, seq(
      field('operand', $._filter_expression),
      'is',
      optional('not'),
      'none',
    )),

    // flow.pest `primary`
    _primary: $ => choice(
      $.parenthesized_expression,
      $.list,
      $.did_expression,
      $.inactive_expression,
      $.in_segment,
      $.ago_expression,
      $._literal,
      $.path,
    ),

    // flow.pest `paren`
    parenthesized_expression: $ => seq('(', $._expression, ')'),

    // flow.pest `list`: a trailing comma is allowed.
    list: $ => seq(
      '[',
      optional(seq(sep1($._expression, ','), optional(','))),
      ']',
    ),

    // flow.pest `did_expr`: `did E where F times OP N within D`, `did E since entry`.
    did_expression: $ => prec.right(seq(
      'did',
      field('event', $.identifier),
      optional(field('filter', $.where_filter)),
      optional(field('count', $.did_count)),
      optional(field('window', choice($.did_within, $.did_since))),
    )),

    // flow.pest `did_count`
    did_count: $ => seq(
      'times',
      field('operator', choice('==', '!=', '<=', '>=', '<', '>')),
      field('count', $.integer),
    ),
    // flow.pest `did_within`
    did_within: $ => seq('within', $.duration),
    // flow.pest `did_since`
    did_since: _ => seq('since', 'entry'),

    // flow.pest `inactive_expr`
    inactive_expression: $ => seq('inactive', 'for', field('duration', $.duration)),

    // flow.pest `in_segment`
    in_segment: $ => seq('in', field('segment', $.identifier)),

    // flow.pest `ago`
    ago_expression: $ => seq(field('duration', $.duration), 'ago'),

    // flow.pest `literal`
    _literal: $ => choice(
      $.none,
      $.boolean,
      $.timestamp,
      $.time_of_day,
      $.duration,
      $.float,
      $.integer,
      $.string,
    ),

    // flow.pest `path`: `profile.plan`, `event.total`, `last.E.FIELD`, or a
    // bare enum member such as `pro`. No whitespace around the dots.
    path: $ => seq(
      field('root', $.identifier),
      repeat(seq(
        token.immediate('.'),
        field('property', alias(token.immediate(/[A-Za-z_][A-Za-z0-9_]*/), $.property_identifier)),
      )),
    ),
  },
});

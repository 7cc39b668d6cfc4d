//! One named test per rule of the WHATWG event-stream interpretation.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::*;

fn drain(parser: &mut Parser) -> Vec<Result<SseItem, ParseError>> {
    std::iter::from_fn(|| parser.poll_output()).collect()
}

/// Everything `input` yields when fed as one chunk and then ended.
fn parse(input: &[u8]) -> Vec<Result<SseItem, ParseError>> {
    let mut parser = Parser::default();
    parser.handle_bytes(input);
    parser.handle_eof();
    drain(&mut parser)
}

/// The same, fed one byte at a time: the harshest chunking.
fn parse_bytewise(input: &[u8]) -> Vec<Result<SseItem, ParseError>> {
    let mut parser = Parser::default();
    for byte in input {
        parser.handle_bytes(std::slice::from_ref(byte));
    }
    parser.handle_eof();
    drain(&mut parser)
}

fn msg(event: &str, data: &str, id: &str) -> Result<SseItem, ParseError> {
    Ok(SseItem::Message(Message {
        event: event.to_owned(),
        data: data.to_owned(),
        last_event_id: id.to_owned(),
    }))
}

/// Checks one input both as a single chunk and byte by byte.
fn check(input: &[u8], expected: &[Result<SseItem, ParseError>]) {
    assert_eq!(parse(input), expected, "one chunk: {input:?}");
    assert_eq!(parse_bytewise(input), expected, "byte by byte: {input:?}");
}

#[test]
fn data_line_and_blank_line_dispatch_a_message() {
    check(b"data: hello\n\n", &[msg("message", "hello", "")]);
}

#[test]
fn data_lines_are_joined_with_lf() {
    check(
        b"data: a\ndata: b\ndata\n\n",
        &[msg("message", "a\nb\n", "")],
    );
}

#[test]
fn only_one_trailing_lf_is_stripped() {
    check(b"data:\ndata:\n\n", &[msg("message", "\n", "")]);
}

#[test]
fn event_field_sets_the_type() {
    check(b"event: add\ndata: 1\n\n", &[msg("add", "1", "")]);
}

#[test]
fn last_event_field_wins() {
    check(b"event: a\nevent: b\ndata: 1\n\n", &[msg("b", "1", "")]);
}

#[test]
fn empty_event_type_defaults_to_message() {
    check(b"event:\ndata: 1\n\n", &[msg("message", "1", "")]);
}

#[test]
fn event_type_resets_after_dispatch() {
    check(
        b"event: a\ndata: 1\n\ndata: 2\n\n",
        &[msg("a", "1", ""), msg("message", "2", "")],
    );
}

#[test]
fn block_without_data_dispatches_nothing_and_resets_type() {
    check(b"event: a\n\ndata: 2\n\n", &[msg("message", "2", "")]);
}

#[test]
fn lf_cr_and_crlf_all_end_lines() {
    let expected = [msg("message", "a\nb\nc", "")];
    check(b"data: a\rdata: b\ndata: c\r\n\r\n", &expected);
    check(b"data: a\rdata: b\rdata: c\r\r", &expected);
    check(b"data: a\r\ndata: b\r\ndata: c\r\n\r\n", &expected);
}

#[test]
fn cr_then_lf_across_chunks_is_one_line_ending() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"data: a\r");
    parser.handle_bytes(b"\ndata: b\r");
    parser.handle_bytes(b"\n\r");
    parser.handle_bytes(b"\n");
    assert_eq!(drain(&mut parser), [msg("message", "a\nb", "")]);
}

#[test]
fn empty_chunk_between_cr_and_lf_keeps_them_together() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"data: a\r");
    parser.handle_bytes(b"");
    parser.handle_bytes(b"\n\n");
    assert_eq!(drain(&mut parser), [msg("message", "a", "")]);
}

#[test]
fn lf_cr_is_two_line_endings() {
    check(
        b"data: a\n\rdata: b\n\n",
        &[msg("message", "a", ""), msg("message", "b", "")],
    );
}

#[test]
fn event_ending_in_cr_is_dispatched_without_waiting() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"data: now\r\r");
    assert_eq!(drain(&mut parser), [msg("message", "now", "")]);
    // The LF that may follow belongs to the last line ending.
    parser.handle_bytes(b"\ndata: next\n\n");
    assert_eq!(drain(&mut parser), [msg("message", "next", "")]);
}

#[test]
fn leading_bom_is_stripped() {
    check(b"\xEF\xBB\xBFdata: 1\n\n", &[msg("message", "1", "")]);
}

#[test]
fn bom_split_across_chunks_is_stripped() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"\xEF");
    parser.handle_bytes(b"");
    parser.handle_bytes(b"\xBB");
    parser.handle_bytes(b"\xBFdata: 1\n\n");
    assert_eq!(drain(&mut parser), [msg("message", "1", "")]);
}

#[test]
fn only_the_first_bom_is_stripped() {
    // The second BOM is part of the field name, which is then unknown.
    check(
        b"\xEF\xBB\xBF\xEF\xBB\xBFdata: 1\n\ndata: 2\n\n",
        &[msg("message", "2", "")],
    );
}

#[test]
fn bom_later_in_the_stream_is_content() {
    check(b"data: \xEF\xBB\xBF\n\n", &[msg("message", "\u{FEFF}", "")]);
}

#[test]
fn partial_bom_is_content() {
    // EF BB then 'd': not a BOM; the two bytes are an invalid sequence that
    // prefixes the field name, so the line is an unknown field.
    check(
        b"\xEF\xBBdata: 1\n\ndata: 2\n\n",
        &[msg("message", "2", "")],
    );
    check(
        b"\xEF\xBB\n\xEF\xBB: x\ndata: 3\n\n",
        &[msg("message", "3", "")],
    );
}

#[test]
fn utf8_split_across_chunks_is_decoded() {
    let text = "data: h\u{e9}\u{20ac}\u{1F600}\n\n".as_bytes();
    for split in 0..=text.len() {
        let mut parser = Parser::default();
        parser.handle_bytes(&text[..split]);
        parser.handle_bytes(&text[split..]);
        assert_eq!(
            drain(&mut parser),
            [msg("message", "h\u{e9}\u{20ac}\u{1F600}", "")],
            "split at {split}"
        );
    }
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    // A lone continuation byte, a truncated 3-byte sequence before the line
    // end, and an overlong encoding: one U+FFFD per maximal invalid part.
    check(
        b"data: a\x80b\xE2\x82\ndata: \xC0\xAF\n\n",
        &[msg("message", "a\u{FFFD}b\u{FFFD}\n\u{FFFD}\u{FFFD}", "")],
    );
}

#[test]
fn invalid_utf8_matches_lossy_decoding_of_the_whole_stream() {
    let stream = b"data: \xF0\x9F\x98\ndata: \xF0\x9F\x98\x80\xFF\n\n";
    let whole = String::from_utf8_lossy(stream);
    let expected = whole
        .strip_prefix("data: ")
        .and_then(|s| s.strip_suffix("\n\n"))
        .map(|s| s.replace("\ndata: ", "\n"))
        .expect("test stream layout");
    check(stream, &[msg("message", &expected, "")]);
}

#[test]
fn invalid_utf8_in_event_type_and_id_is_replaced() {
    check(
        b"event: a\xFF\nid: \xFE1\ndata: x\n\n",
        &[msg("a\u{FFFD}", "x", "\u{FFFD}1")],
    );
}

#[test]
fn comment_lines_are_ignored() {
    check(
        b": hello\n:\ndata: 1\n: between\n\n",
        &[msg("message", "1", "")],
    );
}

#[test]
fn comment_alone_dispatches_nothing() {
    check(b": keep-alive\n\n", &[]);
}

#[test]
fn field_without_colon_has_an_empty_value() {
    check(b"data\n\n", &[msg("message", "", "")]);
    check(b"event\ndata\n\n", &[msg("message", "", "")]);
}

#[test]
fn exactly_one_leading_space_is_stripped() {
    check(b"data:  two\n\n", &[msg("message", " two", "")]);
    check(b"data:none\n\n", &[msg("message", "none", "")]);
    check(b"data:\tx\n\n", &[msg("message", "\tx", "")]);
}

#[test]
fn value_runs_to_end_of_line_including_further_colons() {
    check(b"data: a: b:c\n\n", &[msg("message", "a: b:c", "")]);
}

#[test]
fn field_names_are_case_sensitive_and_exact() {
    check(
        b"Data: x\ndata : y\n data: z\ndata: ok\n\n",
        &[msg("message", "ok", "")],
    );
}

#[test]
fn unknown_fields_are_ignored() {
    check(
        b"foo: bar\ndata: 1\nretries: 5\n\n",
        &[msg("message", "1", "")],
    );
}

#[test]
fn id_sets_the_last_event_id_at_dispatch() {
    check(b"id: 7\ndata: x\n\n", &[msg("message", "x", "7")]);
}

#[test]
fn last_event_id_persists_across_events() {
    check(
        b"id: 7\ndata: x\n\ndata: y\n\n",
        &[msg("message", "x", "7"), msg("message", "y", "7")],
    );
}

#[test]
fn empty_id_resets_the_last_event_id() {
    check(
        b"id: 7\ndata: x\n\nid\ndata: y\n\n",
        &[msg("message", "x", "7"), msg("message", "y", "")],
    );
}

#[test]
fn id_containing_nul_is_ignored() {
    check(
        b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
        &[msg("message", "a", "1"), msg("message", "b", "1")],
    );
}

#[test]
fn id_is_committed_by_a_block_without_data() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"id: 9\n\n");
    assert_eq!(parser.last_event_id(), "9");
    assert_eq!(drain(&mut parser), []);
}

#[test]
fn id_is_not_committed_before_its_block_completes() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"id: 1\ndata: a\n\nid: 2\ndata: b\n");
    assert_eq!(parser.last_event_id(), "1");
    parser.handle_bytes(b"\n");
    assert_eq!(parser.last_event_id(), "2");
}

#[test]
fn incomplete_final_block_is_discarded_at_eof() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"id: 1\ndata: a\n\nid: 2\ndata: b\n");
    parser.handle_eof();
    assert_eq!(drain(&mut parser), [msg("message", "a", "1")]);
    assert_eq!(parser.last_event_id(), "1");
}

#[test]
fn incomplete_final_line_is_discarded_at_eof() {
    check(b"data: a\n\ndata: b", &[msg("message", "a", "")]);
}

#[test]
fn stream_after_eof_starts_clean_and_keeps_the_committed_id() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"id: 1\ndata: a\n\nid: 2\nevent: t\ndata: lost\n");
    parser.handle_eof();
    parser.handle_bytes(b"\xEF\xBB\xBFdata: b\n\n");
    assert_eq!(
        drain(&mut parser),
        [msg("message", "a", "1"), msg("message", "b", "1")]
    );
}

#[test]
fn cr_before_eof_does_not_swallow_the_next_streams_lf() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"data: a\r");
    parser.handle_eof();
    parser.handle_bytes(b"\ndata: b\n\n");
    assert_eq!(drain(&mut parser), [msg("message", "b", "")]);
}

#[test]
fn with_last_event_id_seeds_messages_until_a_new_id() {
    let mut parser = Parser::with_last_event_id(ParserConfig::default(), "a-5");
    parser.handle_bytes(b"data: x\n\nid: a-6\ndata: y\n\n");
    assert_eq!(
        drain(&mut parser),
        [msg("message", "x", "a-5"), msg("message", "y", "a-6")]
    );
}

#[test]
fn retry_with_digits_is_reported_at_once() {
    let mut parser = Parser::default();
    parser.handle_bytes(b"retry: 2500\n");
    assert_eq!(drain(&mut parser), [Ok(SseItem::Retry(2500))]);
}

#[test]
fn retry_is_reported_even_in_a_block_that_is_never_completed() {
    check(b"retry:10\ndata: x", &[Ok(SseItem::Retry(10))]);
}

#[test]
fn retry_comes_before_the_message_of_its_block() {
    check(
        b"data: x\nretry: 5\n\n",
        &[Ok(SseItem::Retry(5)), msg("message", "x", "")],
    );
}

#[test]
fn retry_without_only_digits_is_ignored() {
    check(
        b"retry: 1.5\nretry: -1\nretry: 12a\nretry:  12\nretry:\nretry\n",
        &[],
    );
}

#[test]
fn retry_too_large_for_64_bits_is_ignored() {
    check(b"retry: 18446744073709551616\n", &[]);
    check(
        b"retry: 18446744073709551615\n",
        &[Ok(SseItem::Retry(u64::MAX))],
    );
}

#[test]
fn retry_with_leading_zeros_is_decimal() {
    check(b"retry: 0010\n", &[Ok(SseItem::Retry(10))]);
}

fn small(max_line: usize, max_event: usize) -> Parser {
    Parser::new(ParserConfig {
        max_line,
        max_event,
    })
}

#[test]
fn line_at_the_limit_is_accepted() {
    let mut parser = small(8, 100);
    parser.handle_bytes(b"data: ab\n\n");
    assert_eq!(drain(&mut parser), [msg("message", "ab", "")]);
}

#[test]
fn line_over_the_limit_is_an_error() {
    let mut parser = small(8, 100);
    parser.handle_bytes(b"data: a\n\ndata: abc\n\n");
    assert_eq!(
        drain(&mut parser),
        [msg("message", "a", ""), Err(ParseError::LineTooLong)]
    );
}

#[test]
fn unterminated_line_over_the_limit_is_an_error_before_its_end() {
    let mut parser = small(8, 100);
    parser.handle_bytes(b"data: ab");
    assert_eq!(drain(&mut parser), []);
    parser.handle_bytes(b"c");
    assert_eq!(drain(&mut parser), [Err(ParseError::LineTooLong)]);
}

#[test]
fn comment_lines_count_against_the_line_limit() {
    let mut parser = small(4, 100);
    parser.handle_bytes(b": long comment\n");
    assert_eq!(drain(&mut parser), [Err(ParseError::LineTooLong)]);
}

#[test]
fn event_over_the_limit_is_an_error() {
    // "a\n" + "bc\n" = 5 bytes fits; one more data line does not.
    let mut parser = small(100, 5);
    parser.handle_bytes(b"data: a\ndata: bc\n\ndata: a\ndata: bc\ndata\n\n");
    assert_eq!(
        drain(&mut parser),
        [msg("message", "a\nbc", ""), Err(ParseError::EventTooLarge)]
    );
}

#[test]
fn limits_are_per_event_not_per_stream() {
    let mut parser = small(16, 4);
    for _ in 0..1000 {
        parser.handle_bytes(b"data: abc\n\n");
    }
    assert_eq!(drain(&mut parser).len(), 1000);
    assert!(!parser.is_failed());
}

#[test]
fn failed_parser_reports_once_and_ignores_input() {
    let mut parser = small(4, 4);
    parser.handle_bytes(b"data: toolong\n\n");
    assert!(parser.is_failed());
    assert_eq!(drain(&mut parser), [Err(ParseError::LineTooLong)]);
    parser.handle_bytes(b"data\n\n");
    parser.handle_eof();
    assert_eq!(drain(&mut parser), []);
    assert!(parser.is_failed());
}

#[test]
fn zero_limits_refuse_any_line_but_allow_blank_ones() {
    let mut parser = small(0, 0);
    parser.handle_bytes(b"\n\r\n\r");
    assert_eq!(drain(&mut parser), []);
    parser.handle_bytes(b"x");
    assert_eq!(drain(&mut parser), [Err(ParseError::LineTooLong)]);
}

#[test]
fn held_back_bom_prefix_counts_against_the_line_limit() {
    let mut parser = small(1, 10);
    parser.handle_bytes(b"\xEF\xBB");
    assert_eq!(drain(&mut parser), []);
    parser.handle_bytes(b"\n");
    assert_eq!(drain(&mut parser), [Err(ParseError::LineTooLong)]);
}

#[test]
fn spec_example_stream_with_mixed_fields() {
    // The shape of the spec's examples: comments, multi-line data, ids, and
    // a final block without a blank line that never fires.
    let stream = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n";
    check(
        stream,
        &[
            msg("message", "first event", "1"),
            msg("message", "second event", ""),
        ],
    );
}

#[test]
fn spec_example_two_events_one_empty() {
    check(
        b"data\n\ndata\ndata\n\ndata:",
        &[msg("message", "", ""), msg("message", "\n", "")],
    );
}

#[test]
fn an_event_of_many_data_lines_is_joined_whole() {
    let mut parser = Parser::default();
    let lines = 50_000;
    for _ in 0..lines {
        parser.handle_bytes(b"data:x\n");
    }
    parser.handle_bytes(b"\n");
    let expected = vec!["x"; lines].join("\n");
    assert_eq!(drain(&mut parser), [msg("message", &expected, "")]);
}

import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Large bodies are checked in pieces (TemplatePieces): what is accepted,
/// what renders, the merge fields found and every refusal's message must be
/// those of one parse of the whole body.
@Suite struct TemplatePiecesTests {
    static let unsubscribeHTML = "<a href=\"{{unsubscribe_url}}\">Unsubscribe</a>"
    static let unsubscribeText = "\nUnsubscribe: {{unsubscribe_url}}"

    /// Words for filler, a line of them, or a line `count` bytes long.
    static func words(_ count: Int) -> String {
        let text = String(repeating: "lorem ipsum dolor sit amet ", count: count / 27 + 1)
        return String(text.prefix(count))
    }

    /// A body of `rounds` rounds (~9.3 KiB and 9 tags each) with what a cut
    /// must respect: sections longer than a piece, standalone lines, single
    /// braces, comments holding "{{", multibyte text and a long line with a
    /// tag inside; and its rendering for a person called Ada with no job title.
    static func body(rounds: Int) -> (source: String, rendered: String) {
        var source = "", rendered = ""
        for r in 0..<rounds {
            for i in 0..<3 {
                source += "<p style=\"x{a}\">Hi {{person.first_name}}, café n°\(r).\(i) – {b}</p>\n"
                rendered += "<p style=\"x{a}\">Hi Ada, café n°\(r).\(i) – {b}</p>\n"
            }
            // A section of 6 KiB, its tags standalone (their lines vanish).
            var inside = ""
            for _ in 0..<60 { inside += words(100) + "\n" }
            source += "{{#person.first_name}}\n" + inside + "{{/person.first_name}}\n"
            rendered += inside
            source += "  {{^person.job_title}}\n  no title \(r)\n  {{/person.job_title}}\n"
            rendered += "  no title \(r)\n"
            // One long line with a tag in it.
            let left = words(1500), right = words(1500)
            source += left + " {{person.first_name}} " + right + "\n"
            rendered += left + " Ada " + right + "\n"
            source += "{{! a note with {{ braces }}\n"
        }
        return (source, rendered)
    }

    static func lines(_ text: String) -> Int { text.reduce(0) { $1 == "\n" ? $0 + 1 : $0 } }

    @Test func aLargeBodyIsCheckedInPiecesAndRendersAsOneParseWould() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let connection = try crmd.connect()
        let marketing = MarketingClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let (source, rendered) = Self.body(rounds: 50)
        #expect(source.utf8.count > 450 * 1024 && source.utf8.count < 500 * 1024)
        let t = try await marketing.createTemplate("Large", subject: "Hi {{person.first_name}}",
                                                   html: source + Self.unsubscribeHTML, text: source + Self.unsubscribeText)
        #expect(t.mergeFields == ["person.first_name", "person.job_title", "unsubscribe_url"])
        let ada = try await contacts.createPerson("Ada", "Lovelace")
        let url = "https://mail.example/u?t=1"
        let preview = try await marketing.preview(template: t.id, person: ada.id, unsubscribeURL: url)
        #expect(preview.htmlBody == rendered + "<a href=\"\(url)\">Unsubscribe</a>")
        #expect(preview.textBody == rendered + "\nUnsubscribe: \(url)")
        #expect(preview.emptyFields == ["person.job_title"])
    }

    @Test func anErrorNearTheEndOfALargeBodyIsRefusedWithTheWholeParsesMessage() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = MarketingClient(connection: try crmd.connect())
        let (source, _) = Self.body(rounds: 45)
        let n = Self.lines(source)
        // A closing tag that does not match: found where it is, its column counted from the line's start.
        await expectRPCError(.invalidArgument,
                             mentioning: "html_body: line \(n + 1), column 29: this closing tag does not match the section it closes") {
            try await marketing.createTemplate("A", html: source + "  {{#person.first_name}}x{{/person.last_name}}</p>"
                + Self.unsubscribeHTML)
        }
        // On a line longer than a piece: the column runs back past where a piece began.
        let long = Self.words(9000)
        await expectRPCError(.invalidArgument,
                             mentioning: "text_body: line \(n + 1), column \(9000 + 27): this closing tag does not match") {
            try await marketing.createTemplate("A", html: "", text: source + long + "{{#person.first_name}}x{{/person.last_name}}"
                + Self.unsubscribeText)
        }
        // A section never closed: the parse of a piece cannot tell, the whole's end does.
        await expectRPCError(.invalidArgument, mentioning: "text_body: line \(n + 4), column 1: a section is never closed") {
            try await marketing.createTemplate("A", html: "", text: source + "{{#person.first_name}}\n" + long + "\n"
                + "{{unsubscribe_url}}\n")
        }
        // A tag badly closed near the end: its column is where the engine stood, after the name.
        await expectRPCError(.invalidArgument, mentioning: "text_body: line \(n + 1), column \(9000 + 19): a tag is malformed or not closed") {
            try await marketing.createTemplate("A", html: "", text: source + long + " {{unsubscribe_url} and more words")
        }
        // A section open across many pieces, closed by the wrong name at the end.
        await expectRPCError(.invalidArgument,
                             mentioning: "html_body: line \(n + 2), column 4: this closing tag does not match the section it closes") {
            try await marketing.createTemplate("A", html: "{{#person.first_name}}\n" + source + "{{/person.last_name}}"
                + Self.unsubscribeHTML)
        }
    }
}

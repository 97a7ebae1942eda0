import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// Email templates: create, read, update, delete, list, the checks made
/// when a template is saved, and the audit trail, over the real socket.
@Suite struct TemplateTests {
    static let unsubscribeHTML = "<a href=\"{{unsubscribe_url}}\">Unsubscribe</a>"
    static let unsubscribeText = "\nUnsubscribe: {{unsubscribe_url}}"

    @Test func createsReadsUpdatesDeletesAndPagesTemplates() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = MarketingClient(connection: try crmd.connect())
        let welcome = try await marketing.createTemplate(" Welcome ", subject: "Welcome {{person.first_name}}",
                                                         html: "<h1>{{organization.name}}</h1>" + Self.unsubscribeHTML,
                                                         description: "First mail")
        #expect(welcome.id > 0 && welcome.version == 1 && welcome.name == "Welcome" && welcome.deletedUnixUs == 0)
        #expect(welcome.mergeFields == ["organization.name", "person.first_name", "unsubscribe_url"])
        #expect(welcome.createdUnixUs > 1_700_000_000_000_000 && welcome.updatedUnixUs == welcome.createdUnixUs)
        #expect(try await marketing.getTemplate(welcome.id) == welcome)
        let news = try await marketing.createTemplate("Newsletter")
        let promo = try await marketing.createTemplate("Promo")
        await expectRPCError(.alreadyExists, mentioning: "template.name: template \(welcome.id) is already called") {
            try await marketing.createTemplate("WELCOME")
        }

        // Pages of 2 by id; lists leave the bodies out.
        let first = try await marketing.listTemplates(pageSize: 2)
        #expect(first.templates.map(\.id) == [welcome.id, news.id] && !first.nextPageToken.isEmpty)
        #expect(first.templates.allSatisfy { $0.htmlBody.isEmpty && $0.textBody.isEmpty && !$0.subject.isEmpty })
        let second = try await marketing.listTemplates(pageSize: 2, token: first.nextPageToken)
        #expect(second.templates.map(\.id) == [promo.id] && second.nextPageToken.isEmpty)
        #expect(try await marketing.listTemplates(namePrefix: "news").templates.map(\.id) == [news.id])
        await expectRPCError(.invalidArgument, mentioning: "page_size") { try await marketing.listTemplates(pageSize: -1) }
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await marketing.listTemplates(token: "nope") }

        // A masked update replaces what the mask names only; a stale version is ABORTED.
        let renamed = try await marketing.updateTemplate(welcome.id, mask: ["name"], expectedVersion: 1) {
            $0.name = "Welcome v2"
            $0.subject = "ignored: not in the mask"
        }
        #expect(renamed.version == 2 && renamed.name == "Welcome v2" && renamed.subject == welcome.subject)
        #expect(renamed.htmlBody == welcome.htmlBody && renamed.updatedUnixUs >= welcome.updatedUnixUs)
        await expectRPCError(.aborted, mentioning: "template \(welcome.id) is at version 2, not the expected_version 1") {
            try await marketing.updateTemplate(welcome.id, mask: ["name"], expectedVersion: 1) { $0.name = "Late" }
        }
        // Without a mask: the fields the request sets. lowerCamelCase paths work too.
        let resubjected = try await marketing.updateTemplate(welcome.id) { $0.subject = "Hi {{person.last_name}}" }
        #expect(resubjected.version == 3 && resubjected.name == "Welcome v2")
        #expect(resubjected.mergeFields == ["organization.name", "person.last_name", "unsubscribe_url"])
        let cleared = try await marketing.updateTemplate(welcome.id, mask: ["textBody", "description"]) { _ in }
        #expect(cleared.textBody.isEmpty && cleared.description_p.isEmpty && cleared.version == 4)
        let same = try await marketing.updateTemplate(welcome.id, mask: ["name"]) { $0.name = "Welcome v2" }
        #expect(same.version == 4, "an update that changes nothing keeps the version")
        await expectRPCError(.invalidArgument, mentioning: "update_mask names unknown field \"merge_fields\"") {
            try await marketing.updateTemplate(welcome.id, mask: ["merge_fields"]) { _ in }
        }
        await expectRPCError(.alreadyExists, mentioning: "template.name: template \(news.id)") {
            try await marketing.updateTemplate(welcome.id, mask: ["name"]) { $0.name = "newsletter" }
        }
        await expectRPCError(.invalidArgument, mentioning: "html_body or template.text_body is required") {
            try await marketing.updateTemplate(welcome.id, mask: ["html_body"]) { _ in }
        }
        await expectRPCError(.notFound, mentioning: "template.id: template 999 does not exist") {
            try await marketing.updateTemplate(999) { $0.name = "X" }
        }
        await expectRPCError(.invalidArgument, mentioning: "template.id is required") {
            try await marketing.updateTemplate(0) { $0.name = "X" }
        }

        // Soft delete: out of lists, name free, no more updates.
        await expectRPCError(.aborted, mentioning: "expected_version") {
            try await marketing.deleteTemplate(news.id, expectedVersion: 7)
        }
        let deleted = try await marketing.deleteTemplate(news.id, expectedVersion: 1)
        #expect(deleted.deletedUnixUs > 0 && deleted.version == 2)
        #expect(try await marketing.getTemplate(news.id).deletedUnixUs == deleted.deletedUnixUs)
        #expect(try await marketing.listTemplates().templates.map(\.id) == [welcome.id, promo.id])
        #expect(try await marketing.listTemplates(includeDeleted: true).templates.map(\.id) == [welcome.id, news.id, promo.id])
        await expectRPCError(.failedPrecondition, mentioning: "template \(news.id) is already deleted") {
            try await marketing.deleteTemplate(news.id)
        }
        await expectRPCError(.failedPrecondition, mentioning: "template \(news.id) is deleted") {
            try await marketing.updateTemplate(news.id) { $0.name = "Back" }
        }
        let again = try await marketing.createTemplate("Newsletter")
        #expect(again.id > promo.id)

        await expectRPCError(.notFound, mentioning: "id: template 424242 does not exist") {
            try await marketing.getTemplate(424242)
        }
        await expectRPCError(.invalidArgument, mentioning: "id must be a positive id") { try await marketing.getTemplate(-3) }
        await expectRPCError(.invalidArgument, mentioning: "id is required") { try await marketing.deleteTemplate(0) }
    }

    @Test func aRetriedCreateAnswersTheFirstTemplateAndAnotherRequestUnderTheKeyIsRefused() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = MarketingClient(connection: try crmd.connect())
        let first = try await marketing.createTemplate("Spring", key: "k-1")
        let retry = try await marketing.createTemplate("Spring", key: "k-1")
        #expect(retry == first)
        #expect(try await marketing.listTemplates().templates.count == 1)
        await expectRPCError(.failedPrecondition, mentioning: "idempotency_key \"k-1\" was already used") {
            try await marketing.createTemplate("Spring", subject: "Another subject", key: "k-1")
        }
        // Without a key a second create of the name is a new template, refused by name.
        await expectRPCError(.alreadyExists, mentioning: "template.name") { try await marketing.createTemplate("Spring") }
        await expectRPCError(.invalidArgument, mentioning: "idempotency_key is longer than 200 bytes") {
            try await marketing.createTemplate("Summer", key: String(repeating: "k", count: 201))
        }
    }

    @Test func unknownMergeFieldsAreNamedEveryOneAndPerPart() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = MarketingClient(connection: try crmd.connect())
        await expectRPCError(.invalidArgument, mentioning: "unknown merge fields in html_body: person.nickname, foo") {
            try await marketing.createTemplate("A", html: "<p>{{person.nickname}} {{foo}} {{#person.nickname}}{{/person.nickname}}"
                + "{{person.first_name}}</p>" + Self.unsubscribeHTML)
        }
        await expectRPCError(.invalidArgument,
                             mentioning: "unknown merge fields in subject: name; unknown merge fields in text_body: organization") {
            try await marketing.createTemplate("A", subject: "{{name}}", text: "{{organization}}" + Self.unsubscribeText)
        }
        // `organization` is a section (has one), the implicit {{.}} is not a field.
        await expectRPCError(.invalidArgument, mentioning: "unknown merge fields in text_body: .") {
            try await marketing.createTemplate("A", text: "{{#person.first_name}}{{.}}{{/person.first_name}}" + Self.unsubscribeText)
        }
        let ok = try await marketing.createTemplate("B", text: "{{#organization}}at {{organization.name}}{{/organization}}"
            + Self.unsubscribeText)
        #expect(ok.mergeFields == ["organization", "organization.name", "person.first_name", "unsubscribe_url"])
    }

    @Test func syntaxErrorsNameThePartLineAndColumn() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = MarketingClient(connection: try crmd.connect())
        await expectRPCError(.invalidArgument,
                             mentioning: "html_body: line 2, column 29: this closing tag does not match the section it closes") {
            try await marketing.createTemplate("A", html: "<p>\n  {{#person.first_name}}x{{/person.last_name}}</p>")
        }
        await expectRPCError(.invalidArgument, mentioning: "text_body: line 3, column 1: a section is never closed") {
            try await marketing.createTemplate("A", text: "Hi\n{{#person.first_name}}\n")
        }
        await expectRPCError(.invalidArgument, mentioning: "subject: line 1, column 13: a tag is malformed") {
            try await marketing.createTemplate("A", subject: "Hi {{person first_name}}")
        }
        // CRLF line ends count as one.
        await expectRPCError(.invalidArgument, mentioning: "text_body: line 3, column") {
            try await marketing.createTemplate("A", text: "a\r\nb\r\n{{#x}}{{/y}}")
        }
        await expectRPCError(.invalidArgument, mentioning: "html_body: line 1, column 4: partials ({{>name}}) are not supported") {
            try await marketing.createTemplate("A", html: "<p>{{> footer}}" + Self.unsubscribeHTML)
        }
        await expectRPCError(.invalidArgument, mentioning: "text_body: line 2, column 1: set delimiters") {
            try await marketing.createTemplate("A", text: "x\n{{=<% %>=}}<%unsubscribe_url%>")
        }
        await expectRPCError(.invalidArgument, mentioning: "html_body: line 1, column 1: pragmas") {
            try await marketing.createTemplate("A", html: "{{%CONTENT_TYPE:TEXT}}" + Self.unsubscribeHTML)
        }
        await expectRPCError(.invalidArgument, mentioning: "template inheritance") {
            try await marketing.createTemplate("A", html: "{{<base}}{{$body}}x{{/body}}{{/base}}" + Self.unsubscribeHTML)
        }
        let deep = String(repeating: "{{#person.first_name}}", count: 21) + String(repeating: "{{/person.first_name}}", count: 21)
        await expectRPCError(.invalidArgument, mentioning: "sections are nested more than 20 deep") {
            try await marketing.createTemplate("A", text: deep + Self.unsubscribeText)
        }
        // A tag of a million "(" would recurse the engine's parser off the stack.
        await expectRPCError(.invalidArgument, mentioning: "nested transforms are not supported") {
            try await marketing.createTemplate("A", text: "{{" + String(repeating: "a(", count: 100_000) + "x}}" + Self.unsubscribeText)
        }
        await expectRPCError(.invalidArgument, mentioning: "unknown transform \"reversed\"") {
            try await marketing.createTemplate("A", text: "{{reversed(person.first_name)}}" + Self.unsubscribeText)
        }
        // Comments may hold anything.
        let commented = try await marketing.createTemplate("C", text: "{{! {{> x}} (a(b)) }}" + Self.unsubscribeText)
        #expect(commented.mergeFields == ["person.first_name", "unsubscribe_url"])  // the default subject's
    }

    @Test func theHTMLBodyOnlyEscapesAndEveryBodyCarriesTheUnsubscribeLink() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = MarketingClient(connection: try crmd.connect())
        await expectRPCError(.invalidArgument,
                             mentioning: "html_body: {{{person.first_name}}} would not be HTML-escaped; write {{person.first_name}}") {
            try await marketing.createTemplate("A", html: "{{{person.first_name}}}" + Self.unsubscribeHTML)
        }
        await expectRPCError(.invalidArgument, mentioning: "html_body: {{{unsubscribe_url}}} would not be HTML-escaped") {
            try await marketing.createTemplate("A", html: "<a href=\"{{& unsubscribe_url}}\">x</a>" + Self.unsubscribeHTML)
        }
        // In text, which is never escaped, the triple form is the same as the double.
        _ = try await marketing.createTemplate("Plain", html: "", text: "{{{person.first_name}}}" + Self.unsubscribeText)

        await expectRPCError(.invalidArgument, mentioning: "html_body must contain {{unsubscribe_url}} outside any section") {
            try await marketing.createTemplate("A", html: "<p>Hi</p>")
        }
        await expectRPCError(.invalidArgument, mentioning: "text_body must contain {{unsubscribe_url}}") {
            try await marketing.createTemplate("A", text: "{{#person.first_name}}{{unsubscribe_url}}{{/person.first_name}}")
        }
        await expectRPCError(.invalidArgument, mentioning: "text_body must contain {{unsubscribe_url}}") {
            try await marketing.createTemplate("A", text: "{{#unsubscribe_url}}Unsubscribe{{/unsubscribe_url}}")
        }
        // Inside its own section the link always shows.
        _ = try await marketing.createTemplate("Own", html: "", text: "{{#unsubscribe_url}}Leave: {{unsubscribe_url}}{{/unsubscribe_url}}")
    }

    @Test func sizesAndRequiredFieldsAreChecked() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = MarketingClient(connection: try crmd.connect())
        await expectRPCError(.invalidArgument, mentioning: "template.name is required") { try await marketing.createTemplate(" ") }
        await expectRPCError(.invalidArgument, mentioning: "template.name is longer than 200") {
            try await marketing.createTemplate(String(repeating: "n", count: 201))
        }
        await expectRPCError(.invalidArgument, mentioning: "template.description is longer than 2000") {
            try await marketing.createTemplate("A", description: String(repeating: "d", count: 2001))
        }
        await expectRPCError(.invalidArgument, mentioning: "template.subject is required") {
            try await marketing.createTemplate("A", subject: "  ")
        }
        await expectRPCError(.invalidArgument, mentioning: "template.subject is longer than 998 bytes") {
            try await marketing.createTemplate("A", subject: String(repeating: "é", count: 500))
        }
        await expectRPCError(.invalidArgument, mentioning: "template.subject must be one line") {
            try await marketing.createTemplate("A", subject: "Hi\r\nBcc: all@example.com")
        }
        await expectRPCError(.invalidArgument, mentioning: "template.html_body or template.text_body is required") {
            try await marketing.createTemplate("A", html: "", text: "")
        }
        // 512 KiB is the most a body holds, 500 the most tags a part has.
        let tagged = "<p>{{person.first_name}}, a line of the body</p>\n"
        await expectRPCError(.invalidArgument, mentioning: "html_body: line 501, column 4: more than 500 tags") {
            try await marketing.createTemplate("Tags", html: String(repeating: tagged, count: 501) + Self.unsubscribeHTML)
        }
        let line = "<p>a line of the body without a tag</p>\n"
        let lines = (512 * 1024 - Self.unsubscribeHTML.utf8.count - 499 * tagged.utf8.count) / line.utf8.count
        var body = String(repeating: tagged, count: 499) + String(repeating: line, count: lines) + Self.unsubscribeHTML
        body += String(repeating: " ", count: 512 * 1024 - body.utf8.count)
        let big = try await marketing.createTemplate("Big", html: body)
        #expect(try await marketing.getTemplate(big.id).htmlBody.utf8.count == 512 * 1024)
        await expectRPCError(.invalidArgument, mentioning: "template.html_body is larger than 512 KiB") {
            try await marketing.createTemplate("Bigger", html: body + " ")
        }
    }

    @Test func everyWriteIsAuditedWithItsChangedFields() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let marketing = MarketingClient(connection: try crmd.connect())
        let t = try await marketing.createTemplate("Audited", subject: "S1", html: "", text: "T" + Self.unsubscribeText, key: "a1")
        _ = try await marketing.createTemplate("Audited", subject: "S1", html: "", text: "T" + Self.unsubscribeText, key: "a1")
        _ = try await marketing.updateTemplate(t.id, mask: ["subject"]) { $0.subject = "S2" }
        _ = try await marketing.updateTemplate(t.id, mask: ["subject"]) { $0.subject = "S2" }  // no change: no entry
        _ = try await marketing.deleteTemplate(t.id)
        await expectRPCError(.failedPrecondition, mentioning: "already deleted") { try await marketing.deleteTemplate(t.id) }

        let rows = try DatabaseFile(dataDir: crmd.dir + "/data").rows("""
            SELECT a.id, a.action, c.field, COALESCE(c.old_value, 'NULL'), COALESCE(c.new_value, 'NULL')
            FROM kernel_audit a LEFT JOIN kernel_audit_changes c ON c.audit_id = a.id
            WHERE a.entity = 'marketing.template' AND a.record_id = '\(t.id)' ORDER BY a.id, c.field
            """)
        var actions: [String] = []
        var changes: [String: [String: [String]]] = [:]
        var lastID = ""
        for row in rows {
            if row[0] != lastID { actions.append(row[1]); lastID = row[0] }
            changes[row[1], default: [:]][row[2]] = [row[3], row[4]]
        }
        #expect(actions == ["create", "update", "delete"], "\(rows)")
        let text = "T" + Self.unsubscribeText
        #expect(changes["create"]?["name"] == ["NULL", "Audited"] && changes["create"]?["subject"] == ["NULL", "S1"])
        let digest = try #require(changes["create"]?["text_body"]?[1])
        #expect(digest.hasPrefix("\(text.utf8.count) bytes, sha256 ") && changes["create"]?["html_body"] == nil, "\(digest)")
        #expect(changes["update"] == ["subject": ["S1", "S2"]])
        #expect(changes["delete"]?.keys.sorted() == ["deleted_unix_us"])
    }
}

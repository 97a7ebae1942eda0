import CRMClient
import CRMProto
import CRMTestSupport
import ContactsTestClient
import Foundation
import MarketingTestClient
import Testing

/// PreviewTemplate: rendering for a person from contacts, with and without
/// an organization, escaping, header safety, custom fields and scope.
@Suite struct TemplatePreviewTests {
    static let link = "<a href=\"{{unsubscribe_url}}\">Unsubscribe</a>"
    static let textLink = "\n-- {{unsubscribe_url}}"

    func define(_ contacts: ContactsClient, _ entity: Crm_Contacts_V1_Entity, _ key: String,
                _ type: Crm_Contacts_V1_FieldType = .text, choices: [String] = []) async throws {
        let _: Crm_Contacts_V1_CustomFieldDefinition = try await contacts.call(
            "DefineCustomField", Crm_Contacts_V1_DefineCustomFieldRequest.with {
                $0.definition = .with {
                    $0.entity = entity; $0.key = key; $0.label = key.capitalized; $0.type = type; $0.choices = choices
                }
            })
    }

    func person(_ contacts: ContactsClient, first: String, last: String, email: String = "", job: String = "",
                organization: Int64 = 0, custom: [String: Crm_Contacts_V1_FieldValue] = [:], owner: String = "",
                as user: String? = nil) async throws -> CPerson {
        try await contacts.call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
            $0.person.firstName = first
            $0.person.lastName = last
            if !email.isEmpty { $0.person.emails = [.with { $0.address = email }] }
            $0.person.jobTitle = job
            $0.person.organizationID = organization
            $0.person.customFields = custom
            $0.person.owner = owner
        }, metadata: user.map(AccessSupport.actingAs) ?? [:])
    }

    @Test func previewsForAPersonWithAndWithoutAnOrganizationWithFallbacks() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let connection = try crmd.connect()
        let marketing = MarketingClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        let org = try await contacts.createOrganization("Analytical Engines", domain: "engines.example")
        let ada = try await person(contacts, first: "ada", last: "Lovelace", email: "ada@engines.example", job: "Analyst",
                                   organization: org.id)
        let solo = try await person(contacts, first: "", last: "Babbage")
        let t = try await marketing.createTemplate(
            "Hello",
            subject: "Hi {{#person.first_name}}{{capitalized(person.first_name)}}{{/person.first_name}}"
                + "{{^person.first_name}}there{{/person.first_name}}",
            html: "<p>{{person.full_name}} ({{person.job_title}}, {{person.email}})</p>"
                + "{{#organization}}<p>at {{organization.name}} ({{organization.domain}})</p>{{/organization}}"
                + "{{^organization}}<p>independent</p>{{/organization}}" + Self.link,
            text: "Dear {{person.last_name}}{{#organization}} of {{uppercased(organization.name)}}{{/organization}}" + Self.textLink)

        let forAda = try await marketing.preview(template: t.id, person: ada.id, unsubscribeURL: "https://mail.example/u?p=1&t=x")
        #expect(forAda.subject == "Hi Ada")
        #expect(forAda.htmlBody == "<p>ada Lovelace (Analyst, ada@engines.example)</p><p>at Analytical Engines (engines.example)</p>"
            + "<a href=\"https://mail.example/u?p=1&amp;t=x\">Unsubscribe</a>")
        #expect(forAda.textBody == "Dear Lovelace of ANALYTICAL ENGINES\n-- https://mail.example/u?p=1&t=x")
        #expect(forAda.emptyFields.isEmpty && forAda.templateVersion == 1)

        let forSolo = try await marketing.preview(template: t.id, person: solo.id)
        #expect(forSolo.subject == "Hi there")
        #expect(forSolo.htmlBody == "<p>Babbage (, )</p><p>independent</p>"
            + "<a href=\"https://unsubscribe.invalid/preview\">Unsubscribe</a>")
        #expect(forSolo.textBody == "Dear Babbage\n-- https://unsubscribe.invalid/preview")
        #expect(forSolo.emptyFields == ["organization.domain", "organization.name", "person.email", "person.first_name",
                                        "person.job_title"])

        // A deleted organization renders as none.
        let _: COrganization = try await contacts.call("DeleteOrganization", Crm_Contacts_V1_DeleteOrganizationRequest.with { $0.id = org.id })
        #expect(try await marketing.preview(template: t.id, person: ada.id).htmlBody.contains("independent"))

        // Inline: checked as on save, nothing stored.
        let inline = try await marketing.preview(subject: "{{person.last_name}}", text: "x" + Self.textLink, person: solo.id)
        #expect(inline.subject == "Babbage" && inline.textBody.hasPrefix("x\n-- ") && inline.templateVersion == 0)
        await expectRPCError(.invalidArgument, mentioning: "unknown merge fields in subject: person.age") {
            try await marketing.preview(subject: "{{person.age}}", text: "x" + Self.textLink, person: solo.id)
        }
        #expect(try await marketing.listTemplates().templates.count == 1)

        // Bad inputs.
        await expectRPCError(.invalidArgument, mentioning: "person_id is required") { try await marketing.preview(template: t.id, person: 0) }
        await expectRPCError(.invalidArgument, mentioning: "person_id must be a positive id") {
            try await marketing.preview(template: t.id, person: -1)
        }
        await expectRPCError(.notFound, mentioning: "person_id: person 424242 does not exist") {
            try await marketing.preview(template: t.id, person: 424242)
        }
        await expectRPCError(.notFound, mentioning: "template_id: template 99 does not exist") {
            try await marketing.preview(template: 99, person: ada.id)
        }
        await expectRPCError(.invalidArgument, mentioning: "template_id or template is required") {
            try await marketing.call("PreviewTemplate", Crm_Marketing_V1_PreviewTemplateRequest.with { $0.personID = ada.id },
                                     as: Crm_Marketing_V1_TemplatePreview.self)
        }
        for url in ["javascript:alert(1)", "https://", "https://a.example/x y", "https://a.example/\r\nBcc: x"] {
            await expectRPCError(.invalidArgument, mentioning: "unsubscribe_url is not an http(s) URL") {
                try await marketing.preview(template: t.id, person: ada.id, unsubscribeURL: url)
            }
        }
        await expectRPCError(.invalidArgument, mentioning: "unsubscribe_url is longer than 2000 bytes") {
            try await marketing.preview(template: t.id, person: ada.id, unsubscribeURL: "https://a.example/" + String(repeating: "x", count: 2000))
        }
        let _: CPerson = try await contacts.call("DeletePerson", Crm_Contacts_V1_DeletePersonRequest.with { $0.id = solo.id })
        await expectRPCError(.failedPrecondition, mentioning: "person_id: person \(solo.id) is deleted") {
            try await marketing.preview(template: t.id, person: solo.id)
        }
        _ = try await marketing.deleteTemplate(t.id)
        await expectRPCError(.failedPrecondition, mentioning: "template_id: template \(t.id) is deleted") {
            try await marketing.preview(template: t.id, person: ada.id)
        }
    }

    @Test func htmlEscapesEveryMergedValueAndTextAndSubjectDoNot() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let connection = try crmd.connect()
        let marketing = MarketingClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        try await define(contacts, .person, "note")
        // A quote with a combining mark is one Character: it must still be escaped.
        let lastName = "O'Hara " + "\"\u{301}" + " onmouseover=x &"
        let evil = try await person(contacts, first: "<script>alert(1)</script>", last: lastName,
                                    custom: ["note": .with { $0.text = "Line one\r\nBcc: victim@example.com\nX" }])
        let t = try await marketing.createTemplate(
            "Escapes", subject: "Re: {{person.first_name}} {{person.custom.note}}",
            html: "<p title=\"{{person.last_name}}\">{{person.first_name}}</p>" + Self.link,
            text: "{{person.first_name}} {{person.last_name}}" + Self.textLink)
        let preview = try await marketing.preview(template: t.id, person: evil.id)
        let escaped = "<p title=\"O&#39;Hara &quot;" + "\u{301}" + " onmouseover=x &amp;\">&lt;script&gt;alert(1)&lt;/script&gt;</p>"
        #expect(preview.htmlBody.hasPrefix(escaped), "\(preview.htmlBody)")
        #expect(!preview.htmlBody.contains("<script>"))
        let raw = "<script>alert(1)</script> " + lastName
        #expect(preview.textBody.hasPrefix(raw), "\(preview.textBody)")
        // The subject is one line: the value's CR LF and LF became single spaces.
        #expect(preview.subject == "Re: <script>alert(1)</script> Line one Bcc: victim@example.com X", "\(preview.subject)")
        #expect(!preview.subject.unicodeScalars.contains { $0 == "\r" || $0 == "\n" })
    }

    @Test func customFieldsMustBeDefinedInContactsAndRenderTheirValues() async throws {
        let crmd = try CrmdProcess(plugins: ["contacts", "marketing"])
        let connection = try crmd.connect()
        let marketing = MarketingClient(connection: connection)
        let contacts = ContactsClient(connection: connection)
        try await define(contacts, .person, "shoe_size", .number)
        try await define(contacts, .organization, "tier", .choice, choices: ["bronze", "gold"])
        await expectRPCError(.invalidArgument, mentioning: "unknown merge fields in text_body: person.custom.hat, "
            + "organization.custom.shoe_size, person.custom.Bad (a custom field must first be defined in contacts") {
            try await marketing.createTemplate("A", text: "{{person.custom.hat}}{{person.custom.shoe_size}}"
                + "{{organization.custom.shoe_size}}{{person.custom.Bad}}" + Self.textLink)
        }
        let t = try await marketing.createTemplate(
            "Custom", html: "", text: "Size {{person.custom.shoe_size}}, tier {{organization.custom.tier}}"
                + "{{^person.custom.shoe_size}}(no size){{/person.custom.shoe_size}}" + Self.textLink)
        #expect(t.mergeFields.contains("person.custom.shoe_size") && t.mergeFields.contains("organization.custom.tier"))
        let org: COrganization = try await contacts.call("CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
            $0.organization.name = "Gold Co"
            $0.organization.customFields = ["tier": .with { $0.choice = "gold" }]
        })
        let sized = try await person(contacts, first: "Sam", last: "Size", organization: org.id,
                                     custom: ["shoe_size": .with { $0.number = "44.5" }])
        let plain = try await person(contacts, first: "Pat", last: "Plain")
        #expect(try await marketing.preview(template: t.id, person: sized.id).textBody.hasPrefix("Size 44.5, tier gold\n"))
        let none = try await marketing.preview(template: t.id, person: plain.id)
        #expect(none.textBody.hasPrefix("Size , tier (no size)\n"))
        #expect(none.emptyFields == ["organization.custom.tier", "person.custom.shoe_size"])

        let fields: Crm_Marketing_V1_ListTemplateMergeFieldsResponse = try await marketing.call(
            "ListTemplateMergeFields", Crm_Marketing_V1_ListTemplateMergeFieldsRequest())
        let names = fields.fields.map(\.name)
        #expect(names.prefix(3) == ["person.first_name", "person.last_name", "person.full_name"])
        #expect(names.contains("unsubscribe_url") && names.contains("organization.industry"))
        #expect(names.suffix(2) == ["person.custom.shoe_size", "organization.custom.tier"])
        #expect(fields.fields.allSatisfy { !$0.description_p.isEmpty })
    }

    @Test func aPersonOutOfTheCallersContactsScopeIsNotFound() async throws {
        let crmd = try AccessSupport.start(plugins: ["contacts", "marketing"])
        let admin = try crmd.connect()
        let _: Crm_Kernel_V1_Role = try await admin.call("/crm.kernel.v1.Access/CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
            $0.name = "own_marketer"
            $0.permissions = [
                .with { $0.permission = "marketing.*"; $0.scope = .all },
                .with { $0.permission = "contacts.person.read"; $0.scope = .own },
                .with { $0.permission = "contacts.organization.read"; $0.scope = .own },
                .with { $0.permission = "contacts.custom_field.read"; $0.scope = .all },
            ]
        }, as: Crm_Kernel_V1_Role.self)
        try await AccessSupport.createUser(crmd, "mia", roles: ["own_marketer"])
        try await AccessSupport.createUser(crmd, "zed", roles: ["sales_rep"])
        let contacts = ContactsClient(connection: admin)
        let zedsOrg: COrganization = try await contacts.call("CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
            $0.organization.name = "Zed Corp"
            $0.organization.owner = "zed"
        })
        let mine = try await person(contacts, first: "Mine", last: "Own", organization: zedsOrg.id, owner: "mia")
        let theirs = try await person(contacts, first: "Their", last: "Own", owner: "zed")

        let mia = MarketingClient(connection: admin, metadata: AccessSupport.actingAs("mia"))
        let t = try await mia.createTemplate("Scoped", html: "{{organization.name}}{{^organization}}none{{/organization}}"
            + Self.link)
        let own = try await mia.preview(template: t.id, person: mine.id)
        #expect(own.subject == "Hello Mine")
        // Mia may not see Zed's organization: the person renders as without one.
        #expect(own.htmlBody.hasPrefix("none<a") && own.emptyFields == ["organization.name"])
        await expectRPCError(.notFound, mentioning: "person_id: person \(theirs.id) does not exist") {
            try await mia.preview(template: t.id, person: theirs.id)
        }
        // The administrator reaches both.
        #expect(try await MarketingClient(connection: admin).preview(template: t.id, person: theirs.id).subject == "Hello Their")

        let zed = MarketingClient(connection: admin, metadata: AccessSupport.actingAs("zed"))
        await expectRPCError(.permissionDenied, mentioning: "marketing.template.read") {
            try await zed.preview(template: t.id, person: theirs.id)
        }
        await expectRPCError(.permissionDenied, mentioning: "marketing.template.write") { try await zed.createTemplate("Nope") }
    }
}

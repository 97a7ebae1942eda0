import CRMPluginKit
import ContactsContract
import MarketingContract
import ContactsLinkKit

/// The merge-field vocabulary: a fixed list, plus person.custom.<key> and
/// organization.custom.<key> for the custom fields contacts defines.
enum TemplateFields {
    static let fixed: [(name: String, description: String)] = [
        ("person.first_name", "The person's first name"),
        ("person.last_name", "The person's last name"),
        ("person.full_name", "First and last name, with a space between"),
        ("person.email", "The person's primary (first) email address"),
        ("person.job_title", "The person's job title"),
        ("organization.name", "The person's organization's name"),
        ("organization.domain", "The organization's web domain (example.com)"),
        ("organization.industry", "The organization's industry"),
        ("unsubscribe_url", "The one-click unsubscribe link for this person and message"),
    ]
    private static let fixedNames = Set(fixed.map(\.name))

    /// True when the person has an organization: only as a section.
    static let organizationSection = "organization"

    static func customKey(_ name: String) -> (entity: Crm_Contacts_V1_Entity, key: String)? {
        for (prefix, entity) in [("person.custom.", Crm_Contacts_V1_Entity.person), ("organization.custom.", .organization)]
        where name.hasPrefix(prefix) {
            let key = String(name.dropFirst(prefix.count))
            return isCustomKey(key) ? (entity, key) : nil
        }
        return nil
    }

    /// contacts' key shape: [a-z][a-z0-9_]{0,39}
    private static func isCustomKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        guard (1...40).contains(bytes.count), (0x61...0x7A).contains(bytes[0]) else { return false }
        return bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    /// Every name must be in the vocabulary (custom keys defined in
    /// contacts, asked only when a part uses one); every non-empty body must
    /// carry {{unsubscribe_url}} where no section can hide it.
    static func check(_ ctx: CallContext, _ compiled: CompiledTemplate) throws {
        var defined: [Crm_Contacts_V1_Entity: Set<String>] = [:]
        func isDefined(_ entity: Crm_Contacts_V1_Entity, _ key: String) throws -> Bool {
            if defined[entity] == nil { defined[entity] = try customFields(ctx, entity) }
            return defined[entity]!.contains(key)
        }
        var problems: [String] = []
        for part in compiled.parts {
            var unknown: [String] = []
            var customUnknown = false
            for tag in part.tags where !unknown.contains(tag.name) {
                let isSection = tag.kind == .section || tag.kind == .inverted
                if fixedNames.contains(tag.name) || (isSection && tag.name == organizationSection && tag.transform == nil) {
                    continue
                }
                if let (entity, key) = customKey(tag.name), try isDefined(entity, key) { continue }
                if tag.name.hasPrefix("person.custom.") || tag.name.hasPrefix("organization.custom.") { customUnknown = true }
                unknown.append(tag.name.isEmpty ? "(empty name)" : tag.name)
            }
            if !unknown.isEmpty {
                problems.append("unknown merge fields in \(part.part.rawValue): " + unknown.joined(separator: ", ")
                    + (customUnknown ? " (a custom field must first be defined in contacts for people or organizations)" : ""))
            }
        }
        if !problems.isEmpty { throw PluginError.invalidArgument(problems.joined(separator: "; ")) }
        for part in [compiled.html, compiled.text] where !part.source.isEmpty {
            let linked = part.tags.contains { $0.name == "unsubscribe_url" && $0.kind != .section && $0.kind != .inverted
                && !$0.conditional }
            if !linked {
                throw PluginError.invalidArgument("\(part.part.rawValue) must contain {{unsubscribe_url}} outside any "
                    + "section: marketing email carries an unsubscribe link")
            }
        }
    }

    static func customFields(_ ctx: CallContext, _ entity: Crm_Contacts_V1_Entity) throws -> Set<String> {
        let response: Crm_Contacts_V1_ListCustomFieldsResponse = try ContactsLink.call(
            ctx, "ListCustomFields", Crm_Contacts_V1_ListCustomFieldsRequest.with { $0.entity = entity })
        return Set(response.definitions.map(\.key))
    }

    static func list(_ ctx: CallContext, _ req: Crm_Marketing_V1_ListTemplateMergeFieldsRequest) throws
        -> Crm_Marketing_V1_ListTemplateMergeFieldsResponse {
        var response = Crm_Marketing_V1_ListTemplateMergeFieldsResponse()
        response.fields = fixed.map { field in .with { $0.name = field.name; $0.description_p = field.description } }
        for (entity, prefix, noun) in [(Crm_Contacts_V1_Entity.person, "person", "person's"),
                                       (.organization, "organization", "organization's")] {
            let defined: Crm_Contacts_V1_ListCustomFieldsResponse = try ContactsLink.call(
                ctx, "ListCustomFields", Crm_Contacts_V1_ListCustomFieldsRequest.with { $0.entity = entity })
            for definition in defined.definitions.sorted(by: { $0.key < $1.key }) {
                response.fields.append(.with {
                    $0.name = "\(prefix).custom.\(definition.key)"
                    $0.description_p = "The \(noun) custom field \"\(definition.label)\""
                })
            }
        }
        return response
    }

    /// The values a template renders with. A field without a value is
    /// absent, not "": the engine shows a section over "" (a present value).
    static func values(person: Person, organization: Organization?, unsubscribeURL: String) -> [String: Any] {
        var p: [String: Any] = [:]
        func put(_ dict: inout [String: Any], _ key: String, _ value: String) {
            let trimmed = value.trimmedSpacesAndNewlines
            if !trimmed.isEmpty { dict[key] = trimmed }
        }
        put(&p, "first_name", person.firstName)
        put(&p, "last_name", person.lastName)
        put(&p, "full_name", [person.firstName.trimmedSpacesAndNewlines, person.lastName.trimmedSpacesAndNewlines]
            .filter { !$0.isEmpty }.joined(separator: " "))
        put(&p, "email", person.emails.first?.address ?? "")
        put(&p, "job_title", person.jobTitle)
        p["custom"] = custom(person.customFields)
        var root: [String: Any] = ["person": p]
        if let organization {
            var o: [String: Any] = [:]
            put(&o, "name", organization.name)
            put(&o, "domain", organization.domain)
            put(&o, "industry", organization.industry)
            o["custom"] = custom(organization.customFields)
            root["organization"] = o
        }
        if !unsubscribeURL.isEmpty { root["unsubscribe_url"] = unsubscribeURL }
        return root
    }

    private static func custom(_ fields: [String: Crm_Contacts_V1_FieldValue]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (key, field) in fields {
            let text: String
            switch field.value {
            case .text(let v)?, .number(let v)?, .date(let v)?, .choice(let v)?: text = v
            case nil: text = ""
            }
            let trimmed = text.trimmedSpacesAndNewlines
            if !trimmed.isEmpty { out[key] = trimmed }
        }
        return out
    }

    /// The value `name` has in `values`, or nil.
    static func lookup(_ name: String, in values: [String: Any]) -> String? {
        var node: Any = values
        for segment in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard let dict = node as? [String: Any], let next = dict[String(segment)] else { return nil }
            node = next
        }
        return node as? String
    }
}

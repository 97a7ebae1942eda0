import ContactsContract

/// The person edit form: its values as typed, turned into an UpdatePerson
/// request, and rendered back with crmd's complaint next to its field.
struct PersonForm: Sendable {
    static let plainFields = ["first_name", "last_name", "job_title", "source"]
    var values: [String: String] = [:]
    var version: Int64 = 0

    /// The form's fields: what an error may be shown next to.
    static func fieldNames(_ definitions: [Crm_Contacts_V1_CustomFieldDefinition]) -> Set<String> {
        Set(plainFields + ["emails", "phones", "lifecycle_stage", "tags", "notes"] + definitions.map { "custom_fields." + $0.key })
    }

    init(person p: Crm_Contacts_V1_Person) {
        values["first_name"] = p.firstName
        values["last_name"] = p.lastName
        values["job_title"] = p.jobTitle
        values["source"] = p.source
        values["emails"] = p.emails.map(\.address).joined(separator: "\n")
        values["phones"] = p.phones.map(\.number).joined(separator: "\n")
        values["lifecycle_stage"] = String(p.lifecycleStage.rawValue)
        values["tags"] = p.tags.joined(separator: ", ")
        values["notes"] = p.notes
        for (key, value) in p.customFields { values["custom_fields." + key] = PeoplePages.text(value) }
        version = p.version
    }

    init(form: Form, definitions: [Crm_Contacts_V1_CustomFieldDefinition]) {
        for name in Self.fieldNames(definitions) { values[name] = form[name] ?? "" }
        version = form["version"].flatMap { Int64($0) } ?? 0
    }

    /// The update: every field of the form replaced (named in the mask, so a
    /// field left empty is cleared), against the version the form was opened at.
    /// Labels of emails and phones that stay are kept.
    func request(id: Int64, current: Crm_Contacts_V1_Person,
                 definitions: [Crm_Contacts_V1_CustomFieldDefinition]) -> Crm_Contacts_V1_UpdatePersonRequest {
        var p = Crm_Contacts_V1_Person()
        p.id = id
        p.firstName = values["first_name"] ?? ""
        p.lastName = values["last_name"] ?? ""
        p.jobTitle = values["job_title"] ?? ""
        p.source = values["source"] ?? ""
        p.notes = values["notes"] ?? ""
        let emailLabels = Dictionary(current.emails.map { ($0.address.lowercased(), $0.label) }, uniquingKeysWith: { a, _ in a })
        p.emails = Self.lines(values["emails"]).map { address in
            .with { $0.address = address; $0.label = emailLabels[address.lowercased()] ?? "" }
        }
        let phoneLabels = Dictionary(current.phones.map { ($0.number, $0.label) }, uniquingKeysWith: { a, _ in a })
        p.phones = Self.lines(values["phones"]).map { number in
            .with { $0.number = number; $0.label = phoneLabels[number] ?? "" }
        }
        // An unknown number goes to crmd as it is, which names it.
        let stage = Int32(values["lifecycle_stage"] ?? "0").map { Int($0) } ?? 0
        p.lifecycleStage = Crm_Contacts_V1_LifecycleStage(rawValue: stage) ?? .UNRECOGNIZED(stage)
        p.tags = (values["tags"] ?? "").split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        for definition in definitions {
            let text = (values["custom_fields." + definition.key] ?? "").trimmingSpaces
            guard !text.isEmpty else { continue }
            var value = Crm_Contacts_V1_FieldValue()
            switch definition.type {
            case .number: value.number = text
            case .date: value.date = text
            case .choice: value.choice = text
            default: value.text = text
            }
            p.customFields[definition.key] = value
        }
        return .with {
            $0.person = p
            $0.updateMask = ["first_name", "last_name", "job_title", "source", "notes", "emails", "phones",
                             "lifecycle_stage", "tags", "custom_fields"]
            $0.expectedVersion = version
        }
    }

    private static func lines(_ text: String?) -> [String] {
        (text ?? "").split(whereSeparator: { $0 == "\n" || $0 == "\r" }).map { $0.trimmingSpaces }.filter { !$0.isEmpty }
    }

    /// The form, with `errors` (field → message) next to their fields and
    /// `banner` (a refusal about no one field) above them.
    func render(session: WebSession, id: Int64, title: String, definitions: [Crm_Contacts_V1_CustomFieldDefinition],
                errors: [String: String], banner: String?) -> String {
        func error(_ name: String) -> String {
            guard let message = errors[name] else { return "" }
            return "<p class=\"field-error\" id=\"error-\(HTML.esc(name.replacingDots))\" role=\"alert\">\(HTML.esc(message))</p>"
        }
        func invalid(_ name: String) -> String { errors[name] == nil ? "" : " aria-invalid=\"true\" class=\"invalid\"" }
        func input(_ name: String, _ label: String) -> String {
            """
            <div class="field"><label for="\(name)">\(label)</label>\
            <input id="\(name)" name="\(name)" value="\(HTML.esc(values[name] ?? ""))"\(invalid(name))>\(error(name))</div>
            """
        }
        func area(_ name: String, _ label: String, _ hint: String) -> String {
            """
            <div class="field"><label for="\(name)">\(label) <span class="hint">\(hint)</span></label>\
            <textarea id="\(name)" name="\(name)" rows="3"\(invalid(name))>\(HTML.esc(values[name] ?? ""))</textarea>\(error(name))</div>
            """
        }
        let current = values["lifecycle_stage"] ?? "0"
        let options = PeoplePages.stages.map { stage, label in
            let value = String(stage.rawValue)
            return "<option value=\"\(value)\"\(value == current ? " selected" : "")>\(label.isEmpty ? "—" : label)</option>"
        }.joined()
        var custom = ""
        for d in definitions {
            let name = "custom_fields." + d.key
            let id = "custom_fields-" + d.key
            let label = HTML.esc(d.label.isEmpty ? d.key : d.label) + (d.required ? " *" : "")
            let value = values[name] ?? ""
            var control: String
            if d.type == .choice {
                control = "<select id=\"\(HTML.esc(id))\" name=\"\(HTML.esc(name))\"\(invalid(name))><option value=\"\">—</option>"
                for choice in d.choices {
                    control += "<option\(choice == value ? " selected" : "")>\(HTML.esc(choice))</option>"
                }
                control += "</select>"
            } else {
                let hint = d.type == .date ? " placeholder=\"YYYY-MM-DD\"" : d.type == .number ? " inputmode=\"decimal\"" : ""
                control = "<input id=\"\(HTML.esc(id))\" name=\"\(HTML.esc(name))\" value=\"\(HTML.esc(value))\"\(hint)\(invalid(name))>"
            }
            custom += "<div class=\"field\"><label for=\"\(HTML.esc(id))\">\(label)</label>\(control)\(error(name))</div>"
        }
        let bannerHTML = banner.map { "<p class=\"error\" id=\"form-error\" role=\"alert\">\(HTML.esc($0))</p>" } ?? ""
        return HTML.page(title: "Edit " + title, session: session, body: """
            <p><a href="/people/\(id)">← \(HTML.esc(title))</a></p>
            <h1>Edit \(HTML.esc(title))</h1>\(bannerHTML)
            <form method="post" action="/people/\(id)/edit" class="edit" id="edit-form" novalidate>
            <input type="hidden" name="csrf" value="\(HTML.esc(session.csrfToken))">
            <input type="hidden" name="version" value="\(version)">
            \(input("first_name", "First name"))\(input("last_name", "Last name"))\(input("job_title", "Job title"))
            \(area("emails", "Emails", "one a line, the first is the primary one"))
            \(area("phones", "Phones", "one a line"))
            <div class="field"><label for="lifecycle_stage">Lifecycle stage</label>\
            <select id="lifecycle_stage" name="lifecycle_stage"\(invalid("lifecycle_stage"))>\(options)</select>\(error("lifecycle_stage"))</div>
            \(input("source", "Source"))
            <div class="field"><label for="tags">Tags <span class="hint">separated by commas</span></label>\
            <input id="tags" name="tags" value="\(HTML.esc(values["tags"] ?? ""))"\(invalid("tags"))>\(error("tags"))</div>
            \(area("notes", "Notes", ""))
            \(custom)
            <button type="submit" id="save">Save</button> <a href="/people/\(id)">Cancel</a>
            </form>
            """)
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }

    /// "custom_fields.budget" → "custom_fields-budget", for element ids.
    var replacingDots: String { String(map { $0 == "." ? "-" : $0 }) }
}

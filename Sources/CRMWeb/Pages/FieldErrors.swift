/// Which form field a crmd INVALID_ARGUMENT is about. Contacts names the
/// field at fault first in every message ("person.emails[0].address is not
/// an email address"), so the page can show it next to that field.
enum FieldErrors {
    /// The form field for `message`: "emails", "last_name",
    /// "custom_fields.budget"; nil when it names no field of the form.
    static func field(of message: String, record: String = "person", fields: Set<String>) -> String? {
        guard let start = message.range(of: record + ".") else { return nil }
        let rest = message[start.upperBound...]
        let name = String(rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        if name == "custom_fields" {
            let after = rest.dropFirst(name.count)
            guard after.first == "." else { return nil }
            let key = String(after.dropFirst().prefix { $0.isLetter || $0.isNumber || $0 == "_" })
            let field = "custom_fields." + key
            return fields.contains(field) ? field : nil
        }
        return fields.contains(name) ? name : nil
    }
}

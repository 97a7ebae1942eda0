import CRMPluginKit
import ContactsContract
import ContactsLinkKit

/// The contact an email's sender is: found by address through contacts'
/// search, or made (with the caller's contacts rights, in the same
/// transaction as the ticket).
enum MailSenders {
    /// Contacts' search takes queries of at most 200 characters.
    static let maxSearchable = 200

    struct Sender {
        var person: Person
        var created: Bool
    }

    /// The live person with this email (the lowest id among several), or
    /// nil.
    static func find(_ ctx: CallContext, _ address: String) throws -> Person? {
        var request = Crm_Contacts_V1_SearchPeopleRequest()
        request.query = address
        request.field = .email
        request.pageSize = 100
        let found: Crm_Contacts_V1_ListPeopleResponse = try ContactsLink.call(ctx, "SearchPeople", request)
        return found.people
            .filter { p in
                p.erasedUnixUs == 0 && p.mergedIntoID == 0 && p.deletedUnixUs == 0
                    && p.emails.contains { Normalize.email($0.address) == address }
            }
            .min { $0.id < $1.id }
    }

    /// `key` makes the create idempotent should the same mail come again
    /// after a failure.
    static func findOrCreate(_ ctx: CallContext, _ from: InboundMessage.Address, key: String) throws -> Sender {
        if let person = try find(ctx, from.address) { return Sender(person: person, created: false) }
        var person = Person()
        let (first, last) = names(from)
        person.firstName = first
        person.lastName = last
        var email = Crm_Contacts_V1_Email()
        email.address = from.address
        person.emails = [email]
        person.source = "email"
        var request = Crm_Contacts_V1_CreatePersonRequest()
        request.person = person
        request.idempotencyKey = "service.email:" + SHA256.hexDigest(Array(key.utf8))
        let made: Person = try ContactsLink.call(ctx, "CreatePerson", request)
        return Sender(person: made, created: true)
    }

    /// "Ada Lovelace" → ("Ada", "Lovelace"); no display name → the
    /// address's local part as the first name.
    static func names(_ from: InboundMessage.Address) -> (String, String) {
        let name = from.name.filter { !$0.isNewline }.trimmedSpaces
        let words = name.split(separator: " ").map(String.init)
        guard !words.isEmpty else {
            return (String((from.address.split(separator: "@").first ?? "").prefix(100)), "")
        }
        guard words.count > 1 else { return (String(words[0].prefix(100)), "") }
        return (String(words.dropLast().joined(separator: " ").prefix(100)), String(words[words.count - 1].prefix(100)))
    }
}

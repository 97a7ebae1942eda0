import CRMPluginKit
import ContactsContract
import ContactsLinkKit

extension ContactsLink {
    /// A requester a ticket may name: INVALID_ARGUMENT for an id that is not
    /// positive, then as requireLivePerson.
    static func requirePerson(_ ctx: CallContext, _ id: Int64, field: String) throws -> Person {
        try Validate.positiveID(id, field)
        return try requireLivePerson(ctx, id, field: field)
    }
}

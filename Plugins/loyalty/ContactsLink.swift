import CRMPluginKit
import ContactsContract
import ContactsLinkKit

extension ContactsLink {
    /// The person an account or card may name: nil unless contacts has them
    /// for the caller, neither merged nor erased.
    static func livePerson(_ ctx: CallContext, _ id: Int64) throws -> Crm_Contacts_V1_Person? {
        guard let person = try person(ctx, id), person.erasedUnixUs == 0, person.mergedIntoID == 0 else { return nil }
        return person
    }
}

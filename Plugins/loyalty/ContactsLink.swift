import CRMPluginKit
import ContactsContract
import SwiftProtobuf

/// In-process calls to the contacts module, for the caller (their scope
/// applies); from a writing handler they join its transaction.
enum ContactsLink {
    static let service = "/crm.contacts.v1.Contacts/"

    static func call<Response: Message>(_ ctx: CallContext, _ method: String, _ request: some Message) throws -> Response {
        let bytes = try ctx.host.invoke(service + method, request: try request.serializedBytes(), parent: ctx)
        return try Response(serializedBytes: bytes)
    }

    /// The person, or nil if contacts has no such id (or it is out of the caller's scope).
    static func person(_ ctx: CallContext, _ id: Int64) throws -> Crm_Contacts_V1_Person? {
        do {
            let person: Crm_Contacts_V1_Person = try call(ctx, "GetPerson", Crm_Contacts_V1_GetPersonRequest.with { $0.id = id })
            return person.erasedUnixUs == 0 && person.mergedIntoID == 0 ? person : nil
        } catch let error as PluginError where error.status == .notFound {
            return nil
        }
    }

    static func organization(_ ctx: CallContext, _ id: Int64) throws -> Crm_Contacts_V1_Organization? {
        do {
            return try call(ctx, "GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = id })
        } catch let error as PluginError where error.status == .notFound {
            return nil
        }
    }
}

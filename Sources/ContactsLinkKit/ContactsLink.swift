import CRMPluginKit
import ContactsContract
import SwiftProtobuf

/// In-process calls from a plugin to the contacts module, for the caller
/// (their contacts permissions and scope apply). With `parent: ctx` a call
/// from a writing handler joins its transaction: both commit or neither does.
/// Each plugin links its own copy; plugins add their own calls in
/// `extension ContactsLink` in their folders.
public enum ContactsLink {
    public static let service = "/crm.contacts.v1.Contacts/"

    public static func call<Response: Message>(_ ctx: CallContext, _ method: String, _ request: some Message) throws -> Response {
        let bytes = try ctx.host.invoke(service + method, request: try request.serializedBytes(), parent: ctx)
        return try Response(serializedBytes: bytes)
    }

    /// The person as contacts has it (deleted, merged or erased ones too),
    /// or nil if there is no such id (or it is out of the caller's scope).
    public static func person(_ ctx: CallContext, _ id: Int64) throws -> Crm_Contacts_V1_Person? {
        do {
            return try call(ctx, "GetPerson", Crm_Contacts_V1_GetPersonRequest.with { $0.id = id })
        } catch let error as PluginError where error.status == .notFound {
            return nil
        }
    }

    public static func organization(_ ctx: CallContext, _ id: Int64) throws -> Crm_Contacts_V1_Organization? {
        do {
            return try call(ctx, "GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = id })
        } catch let error as PluginError where error.status == .notFound {
            return nil
        }
    }

    /// A person a record may name: NOT_FOUND if there is no such person
    /// (or the caller may not read them; a negative id too),
    /// FAILED_PRECONDITION if they were erased, merged (naming the
    /// survivor) or deleted.
    @discardableResult
    public static func requireLivePerson(_ ctx: CallContext, _ id: Int64, field: String) throws -> Crm_Contacts_V1_Person {
        guard id > 0, let person = try person(ctx, id) else {
            throw PluginError.notFound("\(field): person \(id) does not exist")
        }
        if person.erasedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) was erased") }
        if person.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("\(field): person \(id) was merged into person \(person.mergedIntoID)")
        }
        if person.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) is deleted") }
        return person
    }

    /// An organization a record may name (0: none): NOT_FOUND if there is no
    /// such organization, FAILED_PRECONDITION if it is deleted.
    public static func requireOrganization(_ ctx: CallContext, _ id: Int64, field: String) throws {
        guard id != 0 else { return }
        guard id > 0, let organization = try organization(ctx, id) else {
            throw PluginError.notFound("\(field): organization \(id) does not exist")
        }
        if organization.deletedUnixUs != 0 {
            throw PluginError.failedPrecondition("\(field): organization \(id) is deleted")
        }
    }
}

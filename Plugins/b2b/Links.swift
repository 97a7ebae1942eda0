import CRMPluginKit
import ContactsContract
import SalesContract
import SwiftProtobuf

/// In-process calls to sales and contacts, for the caller (crmd checks the
/// callee's permission and scope against the original caller). With
/// `parent: ctx` a call from a writing handler joins its transaction.
enum Links {
    static func call<Response: Message>(_ ctx: CallContext, _ method: String, _ request: some Message) throws -> Response {
        let bytes = try ctx.host.invoke(method, request: try request.serializedBytes(), parent: ctx)
        return try Response(serializedBytes: bytes)
    }

    /// The opportunity as sales shows it to the caller: NOT_FOUND for a
    /// missing one or one out of the caller's sales scope (sales' own answer).
    static func opportunity(_ ctx: CallContext, _ id: Int64, field: String) throws -> Crm_Sales_V1_Opportunity {
        do {
            return try call(ctx, "/crm.sales.v1.Sales/GetOpportunity", Crm_Sales_V1_GetOpportunityRequest.with { $0.id = id })
        } catch let error as PluginError where error.status == .notFound {
            throw PluginError.notFound("\(field): opportunity \(id) does not exist")
        }
    }

    /// NOT_FOUND unless the organization exists; FAILED_PRECONDITION if deleted or merged away.
    static func requireOrganization(_ ctx: CallContext, _ id: Int64, field: String) throws -> Crm_Contacts_V1_Organization {
        let organization: Crm_Contacts_V1_Organization
        do {
            organization = try call(ctx, "/crm.contacts.v1.Contacts/GetOrganization",
                                    Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = id })
        } catch let error as PluginError where error.status == .notFound {
            throw PluginError.notFound("\(field): organization \(id) does not exist")
        }
        if organization.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): organization \(id) is deleted") }
        if organization.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("\(field): organization \(id) was merged into organization \(organization.mergedIntoID)")
        }
        return organization
    }

    /// The buying organization's name for the document, "" when there is
    /// none or the caller may not read it (the document then names none).
    static func organizationName(_ ctx: CallContext, _ id: Int64) throws -> String {
        guard id > 0 else { return "" }
        do {
            let organization: Crm_Contacts_V1_Organization = try call(
                ctx, "/crm.contacts.v1.Contacts/GetOrganization", Crm_Contacts_V1_GetOrganizationRequest.with { $0.id = id })
            return organization.deletedUnixUs == 0 ? organization.name : ""
        } catch let error as PluginError where error.status == .notFound || error.status == .permissionDenied {
            return ""
        }
    }
}

extension Links {
    /// A person a committee seat may name: NOT_FOUND if missing or out of
    /// the caller's contacts scope; FAILED_PRECONDITION if erased, merged or deleted.
    static func requireLivePerson(_ ctx: CallContext, _ id: Int64, field: String) throws -> Crm_Contacts_V1_Person {
        let person: Crm_Contacts_V1_Person
        do {
            person = try call(ctx, "/crm.contacts.v1.Contacts/GetPerson", Crm_Contacts_V1_GetPersonRequest.with { $0.id = id })
        } catch let error as PluginError where error.status == .notFound {
            throw PluginError.notFound("\(field): person \(id) does not exist")
        }
        if person.erasedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) was erased") }
        if person.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("\(field): person \(id) was merged into person \(person.mergedIntoID)")
        }
        if person.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): person \(id) is deleted") }
        return person
    }
}

import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import ContactsTestClient
import Foundation
import SwiftProtobuf
import Testing

/// Contacts calls acting for one CRM user (through this process, a trusted
/// proxy: AccessSupport), for the scope and audit tests.
struct Acting {
    let contacts: ContactsClient
    let user: String
    var metadata: [String: String] { AccessSupport.actingAs(user) }

    func call<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self) async throws -> Response {
        try await contacts.call(method, request, as: Response.self, metadata: metadata)
    }

    func createPerson(_ first: String, _ last: String, email: String = "", phone: String = "", organization: Int64 = 0,
                      tags: [String] = [], owner: String = "", key: String = "") async throws -> CPerson {
        try await call("CreatePerson", Crm_Contacts_V1_CreatePersonRequest.with {
            $0.person.firstName = first
            $0.person.lastName = last
            if !email.isEmpty { $0.person.emails = [.with { $0.address = email }] }
            if !phone.isEmpty { $0.person.phones = [.with { $0.number = phone }] }
            $0.person.organizationID = organization
            $0.person.tags = tags
            $0.person.owner = owner
            $0.idempotencyKey = key
        })
    }

    func createOrganization(_ name: String, owner: String = "") async throws -> COrganization {
        try await call("CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
            $0.organization.name = name
            $0.organization.owner = owner
        })
    }

    func getPerson(_ id: Int64) async throws -> CPerson {
        try await call("GetPerson", Crm_Contacts_V1_GetPersonRequest.with { $0.id = id })
    }

    func list(_ request: Crm_Contacts_V1_ListPeopleRequest = .init()) async throws -> Crm_Contacts_V1_ListPeopleResponse {
        try await call("ListPeople", request)
    }

    /// Every page of ListPeople at `pageSize`: the ids, and how many pages.
    func listAll(pageSize: Int32) async throws -> (ids: [Int64], pages: Int) {
        var ids: [Int64] = [], pages = 0, token = ""
        repeat {
            let page = try await list(.with { $0.pageSize = pageSize; $0.pageToken = token })
            ids += page.people.map(\.id)
            pages += 1
            token = page.nextPageToken
        } while !token.isEmpty && pages < 100
        return (ids, pages)
    }

    func search(_ query: String, _ field: Crm_Contacts_V1_SearchField) async throws -> [Int64] {
        let response: Crm_Contacts_V1_ListPeopleResponse = try await call("SearchPeople", Crm_Contacts_V1_SearchPeopleRequest.with {
            $0.query = query
            $0.field = field
        })
        return response.people.map(\.id)
    }

    func duplicates(person: Int64 = 0) async throws -> [Crm_Contacts_V1_DuplicateGroup] {
        let response: Crm_Contacts_V1_FindDuplicatesResponse = try await call(
            "FindDuplicates", Crm_Contacts_V1_FindDuplicatesRequest.with { $0.personID = person })
        return response.groups
    }

    func timeline(person: Int64 = 0, organization: Int64 = 0) async throws -> [Crm_Contacts_V1_TimelineEntry] {
        let response: Crm_Contacts_V1_ListTimelineResponse = try await call("ListTimeline", Crm_Contacts_V1_ListTimelineRequest.with {
            $0.personID = person
            $0.organizationID = organization
            $0.pageSize = 500
        })
        return response.entries
    }

    /// ExportPeople's CSV rows' ids (its first column).
    func exportedIDs() async throws -> [Int64] {
        var text = ""
        for try await chunk in try contacts.connection.stream(contactsService + "ExportPeople", Crm_Contacts_V1_ExportPeopleRequest(),
                                                              as: Crm_Contacts_V1_CsvChunk.self, metadata: metadata) {
            text += chunk.csv
        }
        return text.split(separator: "\r\n").dropFirst().compactMap { Int64($0.split(separator: ",").first ?? "") }
    }
}

/// Every contacts method crmd serves, from Reflection: name → its declared semantics.
func contactsMethods(_ connection: Connection) async throws -> [String: Crm_Kernel_V1_MethodInfo] {
    var methods: [String: Crm_Kernel_V1_MethodInfo] = [:]
    var token = ""
    repeat {
        let page = try await connection.call("/crm.kernel.v1.Reflection/ListServices",
                                             Crm_Kernel_V1_ListServicesRequest.with { $0.pageToken = token },
                                             as: Crm_Kernel_V1_ListServicesResponse.self)
        for service in page.services {
            for method in service.methods where method.fullName.hasPrefix(contactsService) { methods[method.fullName] = method }
        }
        token = page.nextPageToken
    } while !token.isEmpty
    return methods
}

/// The status code of an RPC failure, or nil for success.
func rpcStatus(_ body: () async throws -> Void) async -> (code: Crm_Rpc_V1_StatusCode?, message: String) {
    do {
        try await body()
        return (nil, "")
    } catch let error as RPCError {
        return (error.code, error.message)
    } catch {
        return (.unknown, "\(error)")
    }
}

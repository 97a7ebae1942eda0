import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import SwiftProtobuf

public typealias CPerson = Crm_Contacts_V1_Person
public typealias COrganization = Crm_Contacts_V1_Organization

public let contactsService = "/crm.contacts.v1.Contacts/"

/// Typed calls to the contacts plugin over the socket, for tests.
public struct ContactsClient {
    public let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    public func call<Response: Message>(_ method: String, _ request: some Message, as: Response.Type = Response.self,
                                 metadata: [String: String] = [:]) async throws -> Response {
        try await connection.call(contactsService + method, request, as: Response.self, metadata: metadata)
    }

    public func createPerson(_ first: String, _ last: String, email: String = "", phone: String = "", organization: Int64 = 0,
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

    public func createOrganization(_ name: String, domain: String = "") async throws -> COrganization {
        try await call("CreateOrganization", Crm_Contacts_V1_CreateOrganizationRequest.with {
            $0.organization.name = name
            $0.organization.domain = domain
        })
    }

    public func getPerson(_ id: Int64) async throws -> CPerson {
        try await call("GetPerson", Crm_Contacts_V1_GetPersonRequest.with { $0.id = id })
    }

    public func search(_ query: String, _ field: Crm_Contacts_V1_SearchField = .auto, pageSize: Int32 = 0,
                token: String = "") async throws -> Crm_Contacts_V1_ListPeopleResponse {
        try await call("SearchPeople", Crm_Contacts_V1_SearchPeopleRequest.with {
            $0.query = query
            $0.field = field
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    public func timeline(person: Int64 = 0, organization: Int64 = 0, pageSize: Int32 = 0,
                  token: String = "") async throws -> Crm_Contacts_V1_ListTimelineResponse {
        try await call("ListTimeline", Crm_Contacts_V1_ListTimelineRequest.with {
            $0.personID = person
            $0.organizationID = organization
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    /// The timeline is filled by a bus subscriber after commit: waits until
    /// it holds at least `count` entries.
    public func timeline(person: Int64 = 0, organization: Int64 = 0, atLeast count: Int,
                  timeout: Double = 20) async throws -> [Crm_Contacts_V1_TimelineEntry] {
        let until = Date().addingTimeInterval(timeout)
        while true {
            let entries = try await timeline(person: person, organization: organization, pageSize: 500).entries
            if entries.count >= count || Date() > until { return entries }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

extension ContactsClient {
    public func importRows(_ header: [String], _ csv: String, mapping: [String: String] = [:],
                    dryRun: Bool = false) async throws -> Crm_Contacts_V1_ImportPeopleResponse {
        try await call("ImportPeople", Crm_Contacts_V1_ImportPeopleRequest.with {
            $0.header = header
            $0.csv = csv
            $0.mapping = mapping
            $0.dryRun = dryRun
        })
    }

    /// ExportPeople's whole CSV: the header's names and the rows after it.
    public func export(_ filter: Crm_Contacts_V1_ListPeopleRequest = .init()) async throws -> (header: [String], rows: String) {
        var text = ""
        for try await chunk in try connection.stream(contactsService + "ExportPeople",
                                                     Crm_Contacts_V1_ExportPeopleRequest.with { $0.filter = filter },
                                                     as: Crm_Contacts_V1_CsvChunk.self) {
            text += chunk.csv
        }
        guard let end = text.range(of: "\r\n") else { throw TestFailure("the export has no header line") }
        return (text[..<end.lowerBound].split(separator: ",").map(String.init), String(text[end.upperBound...]))
    }
}

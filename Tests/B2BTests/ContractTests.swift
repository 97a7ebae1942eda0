import B2BTestClient
import CRMClient
import CRMProto
import CRMTestSupport
import Foundation
import Testing

/// Item 6 of issue 16, first half: the contract a signature makes, its
/// terms amended as new versions.
@Suite struct ContractTests {
    func amend(_ world: B2BWorld, _ id: Int64, _ terms: BTerms, reason: String = "extension", expected: Int64 = 0,
               key: String = "", as client: B2BClient? = nil) async throws -> BContract {
        try await (client ?? world.meg).call("AmendContract", Crm_B2b_V1_AmendContractRequest.with {
            $0.id = id
            $0.terms = terms
            $0.reason = reason
            $0.expectedVersion = expected
            $0.idempotencyKey = key
        })
    }

    func versions(_ world: B2BWorld, _ id: Int64, pageSize: Int32 = 0, token: String = "") async throws
        -> Crm_B2b_V1_ListContractVersionsResponse {
        try await world.meg.call("ListContractVersions", Crm_B2b_V1_ListContractVersionsRequest.with {
            $0.contractID = id
            $0.pageSize = pageSize
            $0.pageToken = token
        })
    }

    @Test func anAmendmentIsANewVersion() async throws {
        let world = try await B2BWorld.signing()
        let (contract, _, _) = try await world.signedContract()
        #expect(contract.terms.value.amountMinor == 21000 && contract.terms.upliftBp == 500 && contract.terms.billingPeriod == .annual)
        var terms = contract.terms
        terms.endUnixUs += 30 * B2BWorld.day
        terms.value = .with { $0.amountMinor = 30000 }
        terms.billingPeriod = .quarterly
        let amended = try await amend(world, contract.id, terms, expected: contract.version, key: "a-1")
        #expect(amended.termsVersion == 2 && amended.version == contract.version + 1)
        #expect(amended.terms.value.amountMinor == 30000 && amended.terms.value.currency == "EUR")
        #expect(amended.terms.endUnixUs == contract.terms.endUnixUs + 30 * B2BWorld.day && amended.terms.billingPeriod == .quarterly)
        #expect(try await amend(world, contract.id, terms, expected: contract.version, key: "a-1") == amended, "a retry")
        // The same terms again change nothing; unset value keeps the current one.
        var same = amended.terms
        same.clearValue()
        #expect(try await amend(world, contract.id, same) == amended)
        let listed = try await versions(world, contract.id)
        #expect(listed.versions.map(\.termsVersion) == [1, 2] && listed.versions.map(\.reason) == ["signed", "extension"])
        #expect(listed.versions[0].terms == contract.terms && listed.versions[1].terms == amended.terms)
        let first = try await versions(world, contract.id, pageSize: 1)
        #expect(first.versions.map(\.termsVersion) == [1] && !first.nextPageToken.isEmpty)
        #expect(try await versions(world, contract.id, pageSize: 1, token: first.nextPageToken).versions.map(\.termsVersion) == [2])
        #expect(try await world.contract(contract.id, as: world.meg) == amended)

        // Bad amendments.
        await expectRPCError(.aborted, mentioning: "contract \(contract.id)") {
            try await amend(world, contract.id, terms, expected: contract.version)
        }
        await expectRPCError(.invalidArgument, mentioning: "reason is required") { try await amend(world, contract.id, terms, reason: " ") }
        var other = terms
        other.value = .with { $0.amountMinor = 100; $0.currency = "USD" }
        await expectRPCError(.invalidArgument, mentioning: "terms.value.currency USD is not the contract's currency, EUR") {
            try await amend(world, contract.id, other)
        }
        other.value = .with { $0.amountMinor = -1 }
        await expectRPCError(.invalidArgument, mentioning: "terms.value.amount_minor") { try await amend(world, contract.id, other) }
        other = terms
        other.value = .with { $0.amountMinor = 1_000_000_000_000_000 }
        other.upliftBp = 1
        await expectRPCError(.outOfRange, mentioning: "is above 1000000000000000") { try await amend(world, contract.id, other) }
        other = terms
        other.endUnixUs = other.startUnixUs - 1
        await expectRPCError(.invalidArgument, mentioning: "terms.end_unix_us") { try await amend(world, contract.id, other) }
        await expectRPCError(.notFound, mentioning: "id: contract 999 does not exist") { try await amend(world, 999, terms) }
        await expectRPCError(.invalidArgument, mentioning: "id") { try await amend(world, 0, terms) }
        await expectRPCError(.notFound, mentioning: "contract_id: contract 999 does not exist") { try await versions(world, 999) }
        // A sales rep reads no contracts (b2b.contract.read is sales_manager's, through b2b.*).
        await expectRPCError(.permissionDenied, mentioning: "lacks permission b2b.contract.read") {
            try await world.contract(contract.id, as: world.ann)
        }
    }

    @Test func contractsListByOrganizationAndPage() async throws {
        let world = try await B2BWorld.signing()
        let a = try await world.signedContract(tag: "a")
        let b = try await world.signedContract(tag: "b")
        func list(_ organization: Int64 = 0, pageSize: Int32 = 0, token: String = "") async throws -> Crm_B2b_V1_ListContractsResponse {
            try await world.meg.call("ListContracts", Crm_B2b_V1_ListContractsRequest.with {
                $0.organizationID = organization
                $0.pageSize = pageSize
                $0.pageToken = token
            })
        }
        #expect(try await list().contracts.map(\.id) == [a.contract.id, b.contract.id])
        #expect(try await list(b.contract.organizationID).contracts.map(\.id) == [b.contract.id])
        let page = try await list(pageSize: 1)
        #expect(page.contracts.map(\.id) == [a.contract.id])
        #expect(try await list(pageSize: 1, token: page.nextPageToken).contracts.map(\.id) == [b.contract.id])
        await expectRPCError(.invalidArgument, mentioning: "page_token") { try await list(token: "nonsense") }
        await expectRPCError(.invalidArgument, mentioning: "organization_id") { try await list(-1) }
    }
}

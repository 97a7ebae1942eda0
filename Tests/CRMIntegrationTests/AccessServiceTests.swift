import CRMClient
import CRMProto
import CRMTestSupport
import CRMWire
import Foundation
import SwiftProtobuf
import Testing

/// crm.kernel.v1.Access over the socket, as crmd's own uid (an administrator).
@Suite struct AccessServiceTests {
    let service = "/crm.kernel.v1.Access/"

    func user(_ client: Connection, _ method: String, _ request: some SwiftProtobuf.Message) async throws -> Crm_Kernel_V1_User {
        try await client.call(service + method, request, as: Crm_Kernel_V1_User.self)
    }

    @Test func usersTeamsAndGrantsAnswerEachStatusAndSurviveARestart() async throws {
        let dataDir = try CrmdProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dataDir) }
        var crmd: CrmdProcess? = try CrmdProcess(dataDir: dataDir)
        var client = try crmd!.connect()
        let ada = try await user(client, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with {
            $0.name = "ada"; $0.displayName = "Ada L."; $0.uids = [5001, 5002]; $0.idempotencyKey = "k1"
        })
        #expect(ada.uids == [5001, 5002] && ada.version == 1)
        // The same key and request: the first answer; another request: FAILED_PRECONDITION.
        let again = try await user(client, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with {
            $0.name = "ada"; $0.displayName = "Ada L."; $0.uids = [5001, 5002]; $0.idempotencyKey = "k1"
        })
        #expect(again == ada)
        await #expect(throws: RPCError(.failedPrecondition, "idempotency_key k1 was used with another request")) {
            _ = try await user(client, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with { $0.name = "bob"; $0.idempotencyKey = "k1" })
        }
        await #expect(throws: RPCError(.alreadyExists, "a user named ada exists")) {
            _ = try await user(client, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with { $0.name = "ada" })
        }
        await #expect(throws: RPCError(.alreadyExists, "uid 5001 is bound to user ada")) {
            _ = try await user(client, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with { $0.name = "bob"; $0.uids = [5001] })
        }
        await #expect(throws: RPCError(.invalidArgument, "uid 0 is root or crmd's own: always an administrator, never bound")) {
            _ = try await user(client, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with { $0.name = "bob"; $0.uids = [0] })
        }
        await #expect(throws: RPCError(.invalidArgument, "name must be 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit")) {
            _ = try await user(client, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with { $0.name = "Bob" })
        }
        await #expect(throws: RPCError(.notFound, "no role named wizard")) {
            _ = try await user(client, "Grant", Crm_Kernel_V1_GrantRequest.with { $0.user = "ada"; $0.role = "wizard" })
        }
        await #expect(throws: RPCError(.notFound, "no user named zed")) {
            _ = try await user(client, "BindUid", Crm_Kernel_V1_BindUidRequest.with { $0.user = "zed"; $0.uid = 7 })
        }
        await #expect(throws: RPCError(.aborted, "user ada is at version 1, not 9")) {
            _ = try await user(client, "UpdateUser", Crm_Kernel_V1_UpdateUserRequest.with { $0.name = "ada"; $0.expectedVersion = 9 })
        }
        let granted = try await user(client, "Grant", Crm_Kernel_V1_GrantRequest.with { $0.user = "ada"; $0.role = "sales_rep" })
        #expect(granted.roles == ["sales_rep"])
        let unbound = try await user(client, "UnbindUid", Crm_Kernel_V1_UnbindUidRequest.with { $0.uid = 5002 })
        #expect(unbound.uids == [5001] && unbound.version == 2)
        await #expect(throws: RPCError(.notFound, "uid 5002 is not bound")) {
            _ = try await user(client, "UnbindUid", Crm_Kernel_V1_UnbindUidRequest.with { $0.uid = 5002 })
        }
        let team = try await client.call(service + "CreateTeam", Crm_Kernel_V1_CreateTeamRequest.with {
            $0.name = "east"; $0.members = ["ada"]
        }, as: Crm_Kernel_V1_Team.self)
        #expect(team.members == ["ada"])
        await #expect(throws: RPCError(.notFound, "no user named zed")) {
            _ = try await client.call(service + "SetTeamMembers", Crm_Kernel_V1_SetTeamMembersRequest.with {
                $0.name = "east"; $0.members = ["zed"]
            }, as: Crm_Kernel_V1_Team.self)
        }

        // Everything is in the database: a restarted crmd has the same users.
        try crmd!.stop()
        crmd = nil
        crmd = try CrmdProcess(dataDir: dataDir)
        client = try crmd!.connect()
        let users = try await client.call(service + "ListUsers", Crm_Kernel_V1_ListUsersRequest(),
                                          as: Crm_Kernel_V1_ListUsersResponse.self).users
        #expect(users.count == 1)
        #expect(users.first?.uids == [5001] && users.first?.roles == ["sales_rep"] && users.first?.teams == ["east"])
        #expect(users.first?.displayName == "Ada L." && users.first?.version == 2)
    }

    @Test func listsPaginate() async throws {
        let crmd = try CrmdProcess()
        let client = try crmd.connect()
        for i in 0..<5 {
            _ = try await user(client, "CreateUser", Crm_Kernel_V1_CreateUserRequest.with { $0.name = "user\(i)" })
        }
        var names: [String] = []
        var token = ""
        repeat {
            let page = try await client.call(service + "ListUsers", Crm_Kernel_V1_ListUsersRequest.with {
                $0.pageSize = 2; $0.pageToken = token
            }, as: Crm_Kernel_V1_ListUsersResponse.self)
            #expect(page.users.count <= 2)
            names += page.users.map(\.name)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(names == (0..<5).map { "user\($0)" })
        var roles: [String] = []
        token = ""
        repeat {
            let page = try await client.call(service + "ListRoles", Crm_Kernel_V1_ListRolesRequest.with {
                $0.pageSize = 3; $0.pageToken = token
            }, as: Crm_Kernel_V1_ListRolesResponse.self)
            roles += page.roles.map(\.name)
            token = page.nextPageToken
        } while !token.isEmpty
        #expect(roles == ["administrator", "cashier", "loyalty_manager", "marketing", "read_only", "sales_manager", "sales_rep",
                          "service_agent", "service_mail_gateway", "service_manager"])
        await #expect(throws: RPCError(.invalidArgument, "page_token is not valid")) {
            _ = try await client.call(service + "ListTeams", Crm_Kernel_V1_ListTeamsRequest.with { $0.pageToken = "nope" },
                                      as: Crm_Kernel_V1_ListTeamsResponse.self)
        }
    }
}

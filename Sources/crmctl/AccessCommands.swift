import ArgumentParser
import CRMClient
import CRMProto
import CRMWire
import Foundation
import SwiftProtobuf

/// `crmctl access ...`: users, teams, roles and grants (crm.kernel.v1.Access).
struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: "Manage CRM users, teams, roles and grants.",
        subcommands: [Users.self, Teams.self, Roles.self, Grant.self, Revoke.self, Bind.self, Unbind.self,
                      Disable.self, Enable.self, Explain.self])

    static let service = "/crm.kernel.v1.Access/"

    struct Users: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List users, or create one with --add.",
            discussion: "Each line: name, uids, roles, teams, display name.")
        @OptionGroup var connection: ConnectionOptions
        @Option(name: .long, help: "Create a user with this name.") var add: String?
        @Option(name: .long, help: "With --add: an OS uid to bind; repeatable.") var uid: [UInt32] = []
        @Option(name: .long, help: "With --add: the display name.") var displayName: String?
        @Option(name: .long, help: "With --add: an idempotency key, so a retry creates nothing twice.") var idempotencyKey: String?

        func validate() throws {
            if add == nil && (!uid.isEmpty || displayName != nil || idempotencyKey != nil) {
                throw ValidationError("--uid, --display-name and --idempotency-key go with --add")
            }
        }

        func run() async throws {
            try await runCalls {
                let client = try connection.connect()
                if let add {
                    let user = try await client.call(service + "CreateUser", Crm_Kernel_V1_CreateUserRequest.with {
                        $0.name = add
                        $0.uids = uid
                        $0.displayName = displayName ?? ""
                        $0.idempotencyKey = idempotencyKey ?? ""
                    }, as: Crm_Kernel_V1_User.self)
                    print(line(user))
                    return
                }
                try await eachPage(client, "ListUsers", Crm_Kernel_V1_ListUsersRequest.self) {
                    (page: Crm_Kernel_V1_ListUsersResponse) in page.users.forEach { print(line($0)) }
                }
            }
        }
    }

    struct Teams: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List teams, create one with --add, or set one's members with --set.")
        @OptionGroup var connection: ConnectionOptions
        @Option(name: .long, help: "Create a team with this name.") var add: String?
        @Option(name: .long, help: "Replace this team's members.") var set: String?
        @Option(name: .long, help: "With --add or --set: a member user; repeatable.") var member: [String] = []

        func validate() throws {
            if add != nil && set != nil { throw ValidationError("--add and --set exclude each other") }
            if add == nil && set == nil && !member.isEmpty { throw ValidationError("--member goes with --add or --set") }
        }

        func run() async throws {
            try await runCalls {
                let client = try connection.connect()
                if let add {
                    let team = try await client.call(service + "CreateTeam", Crm_Kernel_V1_CreateTeamRequest.with {
                        $0.name = add; $0.members = member
                    }, as: Crm_Kernel_V1_Team.self)
                    print(teamLine(team))
                    return
                }
                if let set {
                    let team = try await client.call(service + "SetTeamMembers", Crm_Kernel_V1_SetTeamMembersRequest.with {
                        $0.name = set; $0.members = member
                    }, as: Crm_Kernel_V1_Team.self)
                    print(teamLine(team))
                    return
                }
                try await eachPage(client, "ListTeams", Crm_Kernel_V1_ListTeamsRequest.self) {
                    (page: Crm_Kernel_V1_ListTeamsResponse) in page.teams.forEach { print(teamLine($0)) }
                }
            }
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Grant a role to a user.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user.") var user: String
        @Argument(help: "The role, e.g. read_only.") var role: String

        func run() async throws {
            try await changeUser(connection, "Grant", Crm_Kernel_V1_GrantRequest.with { $0.user = user; $0.role = role })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take a role from a user.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user.") var user: String
        @Argument(help: "The role.") var role: String

        func run() async throws {
            try await changeUser(connection, "Revoke", Crm_Kernel_V1_RevokeRequest.with { $0.user = user; $0.role = role })
        }
    }

    struct Bind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Bind an OS uid to a user: its calls act as the user.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user.") var user: String
        @Argument(help: "The uid.") var uid: UInt32

        func run() async throws {
            try await changeUser(connection, "BindUid", Crm_Kernel_V1_BindUidRequest.with { $0.user = user; $0.uid = uid })
        }
    }

    struct Unbind: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unbind an OS uid: its calls are refused again.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The uid.") var uid: UInt32

        func run() async throws {
            try await changeUser(connection, "UnbindUid", Crm_Kernel_V1_UnbindUidRequest.with { $0.uid = uid })
        }
    }
}

/// Calls an Access method that answers with the user, and prints its line.
func changeUser(_ connection: ConnectionOptions, _ method: String, _ request: some Message) async throws {
    try await runCalls {
        let user = try await connection.connect().call(AccessCommand.service + method, request, as: Crm_Kernel_V1_User.self)
        print(line(user))
    }
}

/// Calls a list method page by page until the last, handing each page to `body`.
func eachPage<Request: Message & PagedRequest, Response: Message & PagedResponse>(
    _ client: Connection, _ method: String, _ request: Request.Type, _ body: (Response) -> Void
) async throws {
    var token = ""
    repeat {
        var request = Request()
        request.pageToken = token
        let page = try await client.call(AccessCommand.service + method, request, as: Response.self)
        body(page)
        token = page.nextPageToken
    } while !token.isEmpty
}

protocol PagedRequest { var pageToken: String { get set } }
protocol PagedResponse { var nextPageToken: String { get } }
extension Crm_Kernel_V1_ListUsersRequest: PagedRequest {}
extension Crm_Kernel_V1_ListTeamsRequest: PagedRequest {}
extension Crm_Kernel_V1_ListRolesRequest: PagedRequest {}
extension Crm_Kernel_V1_ListUsersResponse: PagedResponse {}
extension Crm_Kernel_V1_ListTeamsResponse: PagedResponse {}
extension Crm_Kernel_V1_ListRolesResponse: PagedResponse {}

/// "alice  uids 1001,1002  roles read_only  teams east  Alice A."
func line(_ user: Crm_Kernel_V1_User) -> String {
    func list(_ items: [String]) -> String { items.isEmpty ? "-" : items.joined(separator: ",") }
    return "\(user.name)  uids \(list(user.uids.map(String.init)))  roles \(list(user.roles))  teams \(list(user.teams))"
        + (user.disabled ? "  disabled" : "") + (user.displayName.isEmpty ? "" : "  \(user.displayName)")
}

/// "east  ada,bob"
private func teamLine(_ team: Crm_Kernel_V1_Team) -> String { "\(team.name)  \(team.members.joined(separator: ","))" }

func scopeName(_ scope: Crm_Kernel_V1_RecordScope) -> String {
    switch scope {
    case .own: return "own"
    case .team: return "team"
    case .all: return "all"
    default: return "unspecified"
    }
}

import ArgumentParser
import CRMClient
import CRMProto
import Foundation

/// `crmctl access roles|disable|enable|explain`.
extension AccessCommand {
    struct Roles: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the roles, or create, replace or delete a custom role.",
            discussion: """
                A permission is PATTERN=SCOPE, e.g. contacts.person.read=own, sales.*=team, *.read=all.
                First-party roles are read-only.
                """)
        @OptionGroup var connection: ConnectionOptions
        @Option(name: .long, help: "Create a custom role with this name.") var add: String?
        @Option(name: .long, help: "Replace this custom role's description and permissions.") var update: String?
        @Option(name: .long, help: "Delete this custom role (no user may hold it).") var delete: String?
        @Option(name: .long, help: "With --add or --update: PATTERN=own|team|all; repeatable.") var permission: [String] = []
        @Option(name: .long, help: "With --add or --update: what the role is for.") var description: String = ""
        @Option(name: .long, help: "With --add: an idempotency key.") var idempotencyKey: String?

        func validate() throws {
            if [add, update, delete].compactMap({ $0 }).count > 1 { throw ValidationError("--add, --update and --delete exclude each other") }
            if add == nil && update == nil && (!permission.isEmpty || !description.isEmpty) {
                throw ValidationError("--permission and --description go with --add or --update")
            }
            if idempotencyKey != nil && add == nil { throw ValidationError("--idempotency-key goes with --add") }
            _ = try grants()
        }

        private func grants() throws -> [Crm_Kernel_V1_RolePermission] {
            try permission.map { text in
                guard let equals = text.lastIndex(of: "=") else { throw ValidationError("permission \(text) needs =own, =team or =all") }
                let scope: Crm_Kernel_V1_RecordScope
                switch text[text.index(after: equals)...].lowercased() {
                case "own": scope = .own
                case "team": scope = .team
                case "all": scope = .all
                default: throw ValidationError("permission \(text): the scope must be own, team or all")
                }
                return .with { $0.permission = String(text[..<equals]); $0.scope = scope }
            }
        }

        func run() async throws {
            try await runCalls {
                let client = try connection.connect()
                if let add {
                    let role = try await client.call(service + "CreateRole", Crm_Kernel_V1_CreateRoleRequest.with {
                        $0.name = add; $0.description_p = description; $0.permissions = try grants()
                        $0.idempotencyKey = idempotencyKey ?? ""
                    }, as: Crm_Kernel_V1_Role.self)
                    printRole(role)
                } else if let update {
                    let role = try await client.call(service + "UpdateRole", Crm_Kernel_V1_UpdateRoleRequest.with {
                        $0.name = update; $0.description_p = description; $0.permissions = try grants()
                    }, as: Crm_Kernel_V1_Role.self)
                    printRole(role)
                } else if let delete {
                    _ = try await client.call(service + "DeleteRole", Crm_Kernel_V1_DeleteRoleRequest.with { $0.name = delete },
                                              as: Crm_Kernel_V1_DeleteRoleResponse.self)
                    print("deleted role \(delete)")
                } else {
                    try await eachPage(client, "ListRoles", Crm_Kernel_V1_ListRolesRequest.self) {
                        (page: Crm_Kernel_V1_ListRolesResponse) in page.roles.forEach(printRole)
                    }
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user: every call acting for them is refused.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user.") var user: String

        func run() async throws {
            try await changeUser(connection, "UpdateUser", Crm_Kernel_V1_UpdateUserRequest.with { $0.name = user; $0.disabled = true })
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user again.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The user.") var user: String

        func run() async throws {
            try await changeUser(connection, "UpdateUser", Crm_Kernel_V1_UpdateUserRequest.with { $0.name = user; $0.disabled = false })
        }
    }

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether a user may call a method (and reach a record), and which role, scope or rule decided.",
            discussion: "Exits 0 when allowed, 1 when denied.")
        @OptionGroup var connection: ConnectionOptions
        @Option(name: .long, help: "The CRM user.") var user: String
        @Option(name: .long, help: "The method, e.g. /crm.contacts.v1.Contacts/GetPerson.") var method: String
        @Option(name: .long, help: "A record, ENTITY:ID, e.g. contacts.person:42.") var record: String?

        func run() async throws {
            var allowed = false
            try await runCalls {
                let answer = try await connection.connect().call(service + "Explain", Crm_Kernel_V1_ExplainRequest.with {
                    $0.user = user; $0.method = method; $0.record = record ?? ""
                }, as: Crm_Kernel_V1_ExplainResponse.self)
                allowed = answer.allowed
                print(answer.reason)
            }
            if !allowed { throw ExitCode(1) }
        }
    }
}

/// "name: description" then one permission per line; custom roles say so.
private func printRole(_ role: Crm_Kernel_V1_Role) {
    print("\(role.name)\(role.firstParty ? "" : " (custom, version \(role.version))"): \(role.description_p)")
    for p in role.permissions { print("  \(p.permission) (\(scopeName(p.scope)))") }
}

import CRMKernelCore
import Testing

@Suite struct SQLTokensTests {
    @Test func namesAreLowercasedAndPunctuationIsOther() {
        #expect(Array(SQLTokens("SELECT Count(x);")) == [.name("select"), .name("count"), .open, .name("x"), .other, .semicolon])
    }

    @Test func quotedNamesAreTheNamesTheyQuote() {
        #expect(Array(SQLTokens(#""Printf" [a b] `c``d` "e""f""#)) == [.name("printf"), .name("a b"), .name("c`d"), .name("e\"f")])
    }

    @Test func bracketsHaveNoDoubledEscape() {
        #expect(Array(SQLTokens("[a]]")) == [.name("a"), .other])
    }

    @Test func stringsAreOneOtherTokenWhateverTheyHold() {
        #expect(Array(SQLTokens("'printf(''x''); --' x")) == [.other, .name("x")])
    }

    @Test func commentsAreSkipped() {
        #expect(Array(SQLTokens("a -- b (\n c /* d ( ; */ e")) == [.name("a"), .name("c"), .name("e")])
    }

    @Test func unterminatedInputEnds() {
        #expect(Array(SQLTokens("a /* never closed ( ;")) == [.name("a")])
        #expect(Array(SQLTokens("'open string")) == [.other])
        #expect(Array(SQLTokens("\"open name")) == [.name("open name")])
        #expect(Array(SQLTokens("a --")) == [.name("a")])
    }
}

@Suite struct SQLChecksTests {
    @Test func findsDeniedCalls() {
        #expect(SQLChecks.deniedCall(in: "CHECK (length(printf('%.*c', 1000000000, 'x')) > 0)") == "printf")
        #expect(SQLChecks.deniedCall(in: "SELECT LOAD_EXTENSION('x')") == "load_extension")
        #expect(SQLChecks.deniedCall(in: "DEFAULT (\"format\"('%d', 1))") == "format")
        #expect(SQLChecks.deniedCall(in: "x AS ([changes] ())") == "changes")
        #expect(SQLChecks.deniedCall(in: "x AS (total_changes /* hidden */ ())") == "total_changes")
    }

    @Test func allowsWhatOnlyLooksLikeACall() {
        #expect(SQLChecks.deniedCall(in: "CHECK (length(name) > 0)") == nil)
        #expect(SQLChecks.deniedCall(in: "DEFAULT 'printf(1)'") == nil, "inside a string")
        #expect(SQLChecks.deniedCall(in: "x -- printf(1)\n INTEGER") == nil, "inside a comment")
        #expect(SQLChecks.deniedCall(in: "printf INTEGER, y INTEGER CHECK (y > 0)") == nil, "a column named printf")
        #expect(SQLChecks.deniedCall(in: "printf; (1)") == nil)
        #expect(SQLChecks.deniedCall(in: "printf_x(1)") == nil)
    }

    @Test func blankTailsHoldNoStatement() {
        #expect(SQLChecks.isBlank(""))
        #expect(SQLChecks.isBlank(" ;\n; -- done\n /* and */ ;"))
        #expect(!SQLChecks.isBlank("; DROP TABLE x"))
        #expect(!SQLChecks.isBlank("'x'"))
        #expect(!SQLChecks.isBlank("/* a */ b"))
    }
}

@Suite struct PluginTableNamesTests {
    @Test func ownsItsPrefixOnly() {
        #expect(PluginTableNames.isOwned("sales_leads", prefix: "sales_"))
        #expect(!PluginTableNames.isOwned("salesx_leads", prefix: "sales_"))
        #expect(!PluginTableNames.isOwned("contacts_people", prefix: "sales_"))
    }

    @Test func ownsSQLiteIndexesOnItsTablesOnly() {
        #expect(PluginTableNames.isOwnedIndex("sales_leads_by_owner", prefix: "sales_"))
        #expect(PluginTableNames.isOwnedIndex("sqlite_autoindex_sales_leads_1", prefix: "sales_"))
        #expect(!PluginTableNames.isOwnedIndex("sqlite_autoindex_contacts_people_1", prefix: "sales_"))
        #expect(!PluginTableNames.isOwned("sqlite_autoindex_sales_leads_1", prefix: "sales_"), "not a table name")
    }
}

/* Compiled as C99 and as C++11 by `make abi-header-check`. */
#include <string.h>

#include "crm/plugin.h"
#include "crm/plugin_pbc.h"

int main(void) {
    crm_plugin_def def;
    memset(&def, 0, sizeof def);
    def.struct_size = CRM_PLUGIN_DEF_SIZE;
    def.abi_version = CRM_PLUGIN_ABI_VERSION;
    return crm_status_name(CRM_STATUS_NOT_FOUND)[0] == 'N' && def.struct_size > 0 ? 0 : 1;
}

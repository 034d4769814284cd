#include "storage/gs_names.h"

#include <string.h>

#define GS_TOPIC_NAME_MAX 249

int gs_topic_name_check(const char *name, size_t len, const char **why)
{
    if (len == 0) {
        *why = "Topic name is illegal, it can't be empty";
        return -1;
    }
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
        *why = "Topic name cannot be \".\" or \"..\"";
        return -1;
    }
    if (len > GS_TOPIC_NAME_MAX) {
        *why = "Topic name is illegal, it can't be longer than 249 characters";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-')) {
            *why = "Topic name contains a character other than ASCII alphanumerics, '.', '_' and '-'";
            return -1;
        }
    }
    return 0;
}

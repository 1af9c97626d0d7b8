#include "cli.h"

int main(int argc, char **argv)
{
    return knit_cli_main(argc, argv);
}

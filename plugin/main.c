/* Placeholder until the plugin runtime lands. */
#include <stdio.h>
int main(void)
{
	return 0;
}

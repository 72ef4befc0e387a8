/* Found by dlopen_caller.c through its DT_RUNPATH, and, built with
 * -z execstack as a second library, a library that needs an executable
 * stack. */
int dlopen_caller_lib_answer(void)
{
	return 42;
}

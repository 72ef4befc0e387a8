// thread_local variables and the C++ exception machinery (whose globals,
// __cxa_get_globals, live in TLS) are private to each thread: many threads
// throw, catch, rethrow and block at once, each checking its own state.
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "testutil.h"

using namespace std::chrono_literals;

// Many threads throwing and catching at once, with thread_local state
// crossing blocking calls: the exception globals must be per thread.
static thread_local std::string tl_name = "unset";
static thread_local int tl_depth;

static int nested_throw(int id, int depth)
{
	tl_depth = depth;
	if (depth == 0)
		throw std::runtime_error("thread " + std::to_string(id));
	try {
		return nested_throw(id, depth - 1);
	} catch (const std::runtime_error &) {
		CHECK_EQ(std::uncaught_exceptions(), 0);
		std::this_thread::yield();
		throw;
	}
}

static void exceptions()
{
	std::vector<std::thread> ts;
	std::atomic<int> ok{0};
	for (int id = 0; id < 8; id++)
		ts.emplace_back([id, &ok] {
			CHECK(tl_name == "unset");
			tl_name = "worker " + std::to_string(id);
			for (int round = 0; round < 200; round++) {
				try {
					nested_throw(id, 5);
				} catch (const std::runtime_error &e) {
					CHECK(std::string(e.what()) ==
					      "thread " + std::to_string(id));
					if (round % 50 == 0)
						std::this_thread::sleep_for(1ms);
					CHECK(std::string(e.what()) ==
					      "thread " + std::to_string(id));
				}
				CHECK_EQ(tl_depth, 0);
				CHECK(tl_name == "worker " + std::to_string(id));
			}
			ok++;
		});
	for (auto &t : ts)
		t.join();
	CHECK_EQ(ok.load(), 8);
	CHECK(tl_name == "unset");
	printf("exceptions + thread_local: 8 threads x 200 nested throws\n");
}

static thread_local long tl_counter = 5;

int main()
{
	exceptions();

	// Each new thread starts from the thread_local initial value, whatever
	// other threads (and main) did to theirs.
	tl_counter = -1;
	std::vector<std::thread> ts;
	std::atomic<int> ok{0};
	for (int id = 0; id < 8; id++)
		ts.emplace_back([id, &ok] {
			CHECK_EQ(tl_counter, 5);
			for (int round = 0; round < 50; round++) {
				tl_counter = id * 1000 + round;
				std::this_thread::sleep_for(100us);
				CHECK_EQ(tl_counter, id * 1000 + round);
				std::this_thread::yield();
				CHECK_EQ(tl_counter, id * 1000 + round);
			}
			ok++;
		});
	for (auto &t : ts)
		t.join();
	CHECK_EQ(ok.load(), 8);
	CHECK_EQ(tl_counter, -1);
	printf("thread_local: 8 threads kept their own values across sleeps and yields\n");
	return 0;
}

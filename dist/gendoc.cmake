# cmake -DMTDGATE=... -DGENDOC=... -DOUT=... -P gendoc.cmake
# 'mtdgate --dump-commands' | gendoc OUT: man pages and bash completion.
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${MTDGATE} --dump-commands OUTPUT_FILE ${OUT}/commands.txt
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mtdgate --dump-commands failed (${rc})")
endif()
execute_process(COMMAND ${GENDOC} ${OUT} INPUT_FILE ${OUT}/commands.txt RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gendoc failed (${rc})")
endif()

// expect: line 3: system task \$fatal is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = 9'd0;
  initial $fatal(0, "bye");
  initial $exit;
  initial $stop;
  initial $finish_and_return(0);
endmodule
